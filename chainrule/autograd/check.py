"""Numerical gradient checking: central differences against the analytical Jacobian."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.engine import grad as _grad
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.errors import GradcheckError


def _outputs(fn, inputs) -> list[Tensor]:
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else list(out)


def central_differences(
    f: Callable[[xp.ndarray], Any], x: xp.ndarray, eps: float, base: Any = None
) -> Iterator[tuple[tuple[int, ...], Any, Any, Any]]:
    """The difference quotients of ``f`` at the array ``x``, one element at a time in C order:
    the one place chainrule writes a finite difference (gradcheck, explain's numerical check, its
    nudges and ``Explanation.numerical`` all use it).

    Yields ``(i, plus, minus, slope)`` for every element index ``i`` of ``x``, with
    ``plus = f(x + eps·e_i)``, ``minus = f(x − eps·e_i)`` and the central difference
    ``slope = (plus − minus) / 2eps``. Given ``base`` (``f(x)``, already computed), the difference
    is one-sided instead: ``minus`` is ``base`` (f is not evaluated below x) and
    ``slope = (plus − base) / eps``. ``f`` returns a number or a float array (then ``slope`` is
    one per output element).

    ``x`` is perturbed in place, element by element (``x.reshape(-1)`` would silently copy a
    non-contiguous array and the perturbation would be lost), and restored before each yield, so
    ``f`` must not keep it and a caller may stop early.
    """
    for i in xp.ndindex(x.shape):
        orig = x[i]
        x[i] = orig + eps
        plus = f(x)
        if base is None:
            x[i] = orig - eps
            minus = f(x)
            x[i] = orig
            yield i, plus, minus, (plus - minus) / (2 * eps)
        else:
            x[i] = orig
            yield i, plus, base, (plus - base) / eps


def numerical_jacobian(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6):
    """J[k][i] = d(output k)/d(input i) by central differences: a (out.size, in.size) array each."""
    with_grad = [i for i, x in enumerate(inputs) if x.requires_grad]
    outs = _outputs(fn, inputs)
    jac = [[xp.zeros((o._data.size, inputs[i]._data.size)) for i in with_grad] for o in outs]
    ends = xp.cumsum([0] + [o._data.size for o in outs])

    def flat(_) -> xp.ndarray:  # every output as one float64 vector (the input is changed in place)
        return xp.concatenate([o._data.astype(xp.float64).ravel() for o in _outputs(fn, inputs)])

    for col, i in enumerate(with_grad):
        for j, (_, _, _, slope) in enumerate(central_differences(flat, inputs[i]._data, eps)):
            for k in range(len(outs)):
                jac[k][col][:, j] = slope[ends[k] : ends[k + 1]]
    return jac


def analytical_jacobian(fn: Callable, inputs: Sequence[Tensor]):
    """The same Jacobians from reverse mode, one backward pass per output element."""
    with_grad = [inputs[i] for i, x in enumerate(inputs) if x.requires_grad]
    outs = _outputs(fn, inputs)
    jac = [[xp.zeros((o._data.size, x._data.size)) for x in with_grad] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o._data.size):
            seed = xp.zeros(o._data.size, dtype=o.dtype)
            seed[r] = 1
            gs = _grad(
                o, with_grad, _tensor(seed.reshape(o.shape)), retain_graph=True, allow_unused=True
            )
            for col, g in enumerate(gs):
                if g is None:
                    continue
                _check_meta(g, with_grad[col], col)
                jac[k][col][r] = g._data.reshape(-1)
    return jac


def _check_meta(g: Tensor, x: Tensor, i: int) -> None:
    if g.shape != x.shape:
        raise GradcheckError(
            f"gradcheck: gradient of input {i} has shape {g.shape}, input {x.shape}"
        )
    if g.dtype != x.dtype:
        raise GradcheckError(f"gradcheck: gradient of input {i} is {g.dtype}, input is {x.dtype}")


def gradcheck(
    fn: Callable,
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Checks reverse-mode gradients of ``fn`` against central differences.

    For every input that requires grad and every output, the full Jacobian is compared element by
    element: ``|analytical - numerical| <= atol + rtol * |numerical|``. It also checks that each
    gradient has its input's shape and dtype, and that a zero upstream gradient gives zero.
    Use float64 inputs: in float32 the differences are dominated by rounding.

    Returns:
        True when everything agrees.
    Raises:
        GradcheckError naming the input, the output, the element and both values.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not any(x.requires_grad for x in inputs):
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i, x in enumerate(inputs):
        if x.requires_grad and x.dtype != xp.float64:
            raise ValueError(
                f"gradcheck: input {i} is {x.dtype}; use float64 inputs (finite differences in "
                "float32 are too noisy to judge a gradient)"
            )
    idx = [i for i, x in enumerate(inputs) if x.requires_grad]
    num = numerical_jacobian(fn, inputs, eps)
    ana = analytical_jacobian(fn, inputs)
    for k in range(len(num)):
        for col, i in enumerate(idx):
            a, n = ana[k][col], num[k][col]
            bad = xp.abs(a - n) > atol + rtol * xp.abs(n)
            if bad.any():
                r, j = xp.argwhere(bad)[0]
                elem = xp.unravel_index(j, inputs[i].shape)
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for output {k} element {r} with respect to "
                    f"input {i} element {tuple(int(e) for e in elem)}: numerical {n[r, j]:.10g}, "
                    f"analytical {a[r, j]:.10g}"
                )
    _check_zero_upstream(fn, inputs, idx)
    return True


def _check_zero_upstream(fn, inputs, idx) -> None:
    outs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if not outs:
        return
    zeros = [_tensor(xp.zeros_like(o._data)) for o in outs]
    gs = _grad(outs, [inputs[i] for i in idx], zeros, allow_unused=True)
    for col, g in zip(idx, gs):
        if g is not None and xp.any(g._data != 0):
            raise GradcheckError(
                f"gradcheck: a zero upstream gradient gave a non-zero gradient for input {col}"
            )
