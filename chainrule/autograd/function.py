"""``apply``: runs an op on Tensors and records the graph node that makes it differentiable."""

from __future__ import annotations

import functools

from chainrule.autograd.grad_mode import state
from chainrule.backend import xp
from chainrule.errors import AnomalyError, ShapeError, user_line


def apply(op, *inputs):
    """Runs ``op.forward`` on the inputs' arrays and wraps the result in a Tensor.

    When gradients are being recorded and an input requires one, the op becomes the result's graph
    node (``result._node``), holding its inputs; under ``cr.jvp`` the result's tangent is computed
    by ``op.jvp``; under ``detect_anomaly`` the result is checked for NaN/Inf.
    """
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        return tracer.apply(op, inputs)
    n = len(inputs)
    try:
        if n == 1:
            out = op.forward(inputs[0]._data)
        elif n == 2:
            out = op.forward(inputs[0]._data, inputs[1]._data)
        else:
            out = op.forward(*[t._data for t in inputs])
    except (ValueError, IndexError, TypeError) as exc:
        raise _op_error(op, inputs, exc) from None

    t = Tensor.__new__(Tensor)
    t._data = out
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
        op._v = state.epoch
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
    t._data = array
    t.grad = None
    t._tangent = None
    t.name = None
    t.requires_grad = False
    t._node = None
    return t


def derived(fn, *args, **kwargs):
    """``constant(fn(*arrays, **kwargs))`` (a tuple of them when ``fn`` returns a tuple): a value
    computed from tensors' data that takes no
    gradient (a comparison, an argmax, an integer cast). Computed through here, rather than on
    ``.data`` directly, so that ``cr.compile`` records it and recomputes it at every replay."""
    raw = [a._data if isinstance(a, Tensor) else a for a in args]
    out = fn(*raw, **kwargs)
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        tracer.derived(fn, args, kwargs, out)
    if isinstance(out, tuple):
        return tuple(constant(o) for o in out)
    return constant(out)


def fresh(fn, *args):
    """``fn(*args)`` for an array that must be drawn anew at every call (a dropout mask, a random
    tensor); ``cr.compile`` records the call and makes it again at every replay."""
    out = fn(*args)
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        tracer.fresh(fn, args, out)
    return out


def effect(fn, *args) -> None:
    """Runs ``fn(*args)``, a change to state outside the graph (BatchNorm's running statistics);
    ``cr.compile`` records it and runs it again at every replay. ``args`` are passed as they are
    (Tensors as objects, so ``fn`` reads their ``.data`` when it runs)."""
    fn(*args)
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        tracer.effect(fn, args)


def recorded(method):
    """Decorates a method with effects on training state (an optimiser's ``step``), so that a
    ``cr.compile`` recording replays the whole call rather than the ops inside it."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        tracer = state.tracer
        if tracer is None or tracer.busy:
            return method(*args, **kwargs)
        return tracer.call(method, args, kwargs)

    wrapper.__wrapped_recorded__ = True
    return wrapper


def _forward_tangent(op, inputs, out) -> None:
    if all(i._tangent is None for i in inputs):
        return
    tangents = [i._tangent if i._tangent is not None else xp.zeros_like(i._data) for i in inputs]
    tan = op.jvp(*tangents, *[i._data for i in inputs], out._data)
    if tan.shape != out._data.shape:
        tan = xp.broadcast_to(tan, out._data.shape)
    out._tangent = tan


def _op_error(op, inputs, exc: Exception) -> Exception:
    msg = f"{op.error_message([i._data for i in inputs], exc)}\n  at {user_line()}"
    if isinstance(exc, IndexError):
        return IndexError(msg)
    if isinstance(exc, TypeError):
        return TypeError(msg)
    return ShapeError(msg)


def _check_anomaly(op, inputs, out) -> None:
    op.trace = user_line()
    data = out._data
    if data.dtype.kind in "fc" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: {op.name} produced NaN or Inf in its result\n  at {op.trace}"
        )


from chainrule.autograd.tensor import Tensor  # noqa: E402  (Tensor's methods call apply)
