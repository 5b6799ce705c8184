"""``apply``: runs an op on Tensors and records the graph node that makes it differentiable."""

from __future__ import annotations

from chainrule.autograd.grad_mode import state
from chainrule.backend import xp
from chainrule.errors import AnomalyError, ShapeError, user_line


def apply(op, *inputs):
    """Runs ``op.forward`` on the inputs' arrays and wraps the result in a Tensor.

    When gradients are being recorded and an input requires one, the op becomes the result's graph
    node (``result._node``), holding its inputs; under ``cr.jvp`` the result's tangent is computed
    by ``op.jvp``; under ``detect_anomaly`` the result is checked for NaN/Inf.
    """
    n = len(inputs)
    try:
        if n == 1:
            out = op.forward(inputs[0].data)
        elif n == 2:
            out = op.forward(inputs[0].data, inputs[1].data)
        else:
            out = op.forward(*[t.data for t in inputs])
    except (ValueError, IndexError, TypeError) as exc:
        raise _op_error(op, inputs, exc) from None

    t = Tensor.__new__(Tensor)
    t.data = out
    t.grad = None
    t._tangent = None
    t.name = None
    if state.grad_enabled and (
        inputs[0].requires_grad
        if n == 1
        else (inputs[0].requires_grad or inputs[1].requires_grad)
        if n == 2
        else any(i.requires_grad for i in inputs)
    ):
        t.requires_grad = True
        t._node = op
        op.inputs = inputs
    else:
        t.requires_grad = False
        t._node = None
    if state.forward_level:
        _forward_tangent(op, inputs, t)
    if state.anomaly:
        _check_anomaly(op, inputs, t)
    return t


def constant(array):
    """A Tensor around ``array`` that is no one's result and needs no gradient."""
    t = Tensor.__new__(Tensor)
    t.data = array
    t.grad = None
    t._tangent = None
    t.name = None
    t.requires_grad = False
    t._node = None
    return t


def _forward_tangent(op, inputs, out) -> None:
    if all(i._tangent is None for i in inputs):
        return
    tangents = [i._tangent if i._tangent is not None else xp.zeros_like(i.data) for i in inputs]
    tan = op.jvp(*tangents, *[i.data for i in inputs], out.data)
    if tan.shape != out.data.shape:
        tan = xp.broadcast_to(tan, out.data.shape)
    out._tangent = tan


def _op_error(op, inputs, exc: Exception) -> Exception:
    msg = f"{op.error_message([i.data for i in inputs], exc)}\n  at {user_line()}"
    if isinstance(exc, IndexError):
        return IndexError(msg)
    if isinstance(exc, TypeError):
        return TypeError(msg)
    return ShapeError(msg)


def _check_anomaly(op, inputs, out) -> None:
    op.trace = user_line()
    data = out.data
    if data.dtype.kind in "fc" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: {op.name} produced NaN or Inf in its result\n  at {op.trace}"
        )


from chainrule.autograd.tensor import Tensor  # noqa: E402  (Tensor's methods call apply)
