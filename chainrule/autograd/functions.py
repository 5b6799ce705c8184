"""The differentiable functions users call (``cr.exp(x)``, ``cr.cat([...])``, ...).

Each wraps one primitive op, or composes a few. This module is also the math namespace handed to
VJP rules when the backward pass is recorded (``create_graph=True``): it offers the same names as
``backend.ArrayMath`` (``exp``, ``where``, ``sum_to``, ``index_add``, ...) on Tensors.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from chainrule import ops
from chainrule.autograd.function import apply, constant, derived
from chainrule.autograd.tensor import Tensor, _lift, _raw
from chainrule.backend import get_default_dtype
from chainrule.errors import ShapeError, user_line
from chainrule.ops.base import normalize_axes


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else constant(np.asarray(x))


# ----- elementwise -----
def add(a, b) -> Tensor:
    """a + b, broadcasting as NumPy."""
    a = _t(a)
    return apply(ops.Add(), a, _lift(b, a))


def mul(a, b) -> Tensor:
    """a * b, broadcasting as NumPy."""
    a = _t(a)
    return apply(ops.Mul(), a, _lift(b, a))


def exp(x: Tensor) -> Tensor:
    """e^x elementwise. d/dx = e^x (the output is reused in the backward pass)."""
    return apply(ops.Exp(), _t(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm elementwise. d/dx = 1/x."""
    return apply(ops.Log(), _t(x))


def sqrt(x: Tensor) -> Tensor:
    """√x elementwise. d/dx = 1 / (2√x)."""
    return apply(ops.Sqrt(), _t(x))


def abs(x: Tensor) -> Tensor:
    """|x| elementwise. d/dx = sign(x), 0 at 0."""
    return apply(ops.Abs(), _t(x))


def tanh(x: Tensor) -> Tensor:
    """tanh x elementwise. d/dx = 1 - tanh² x."""
    return apply(ops.Tanh(), _t(x))


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^-x) elementwise, without overflow for large |x|. σ' = σ (1 - σ)."""
    return apply(ops.Sigmoid(), _t(x))


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise. d/dx = 1 where x > 0, else 0."""
    return apply(ops.Relu(), _t(x))


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None). The gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return apply(ops.Clip(_raw(min), _raw(max)), _t(x))


clamp = clip


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b); at ties the gradient is split equally."""
    a = _t(a)
    return apply(ops.Maximum(), a, _lift(b, a))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b); at ties the gradient is split equally."""
    a = _t(a)
    return apply(ops.Minimum(), a, _lift(b, a))


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` holds, else ``b`` (broadcasting all three). ``cond`` gets no gradient."""
    cond = np.asarray(_raw(cond), dtype=bool)
    if isinstance(a, Tensor):
        b = _lift(b, a)
    elif isinstance(b, Tensor):
        a = _lift(a, b)
    else:
        a = constant(np.asarray(a, dtype=get_default_dtype()))
        b = _lift(b, a)
    return apply(ops.Where(cond), a, b)


def sign(x) -> Tensor:
    """-1, 0 or 1 elementwise (no gradient)."""
    return derived(np.sign, x)


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``."""
    return _t(x).astype(dtype)


# ----- reductions -----
def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None). The gradient broadcasts back over the summed axes."""
    return apply(ops.Sum(axis, keepdims), _t(x))


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None): the sum divided by the number of elements."""
    x = _t(x)
    axes = normalize_axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(x, axes, keepdims) * (1.0 / n if n else float("nan"))


def var(x: Tensor, axis=None, keepdims: bool = False, correction: int = 0) -> Tensor:
    """Variance over ``axis``: mean((x - mean x)²), divided by n - correction instead of n."""
    x = _t(x)
    axes = normalize_axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    d = x - mean(x, axes, keepdims=True)
    return sum(d * d, axes, keepdims) * (1.0 / builtins.max(n - correction, 1))


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis`` (values only). Tied maxima share the gradient equally."""
    return apply(ops.Max(axis, keepdims), _t(x))


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Smallest value over ``axis`` (values only). Tied minima share the gradient equally."""
    return apply(ops.Min(axis, keepdims), _t(x))


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest value over ``axis`` (int64, no gradient)."""
    return derived(np.argmax, x, axis=axis, keepdims=keepdims)


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value over ``axis`` (int64, no gradient)."""
    return derived(np.argmin, x, axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis``, stable for large logits (the max is subtracted first)."""
    return apply(ops.Softmax(axis), _t(x))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - log Σ e^x along ``axis``, stable for large logits."""
    return apply(ops.LogSoftmax(axis), _t(x))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """log Σ e^x over ``axis``, computed without overflow."""
    x = _t(x)
    m = derived(np.max, x, axis=axis, keepdims=True)
    out = log(sum(exp(x - m), axis, keepdims=True)) + m
    return out if keepdims else squeeze(out, axis if axis is not None else None)


# ----- shape -----
def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    x = _t(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return apply(ops.Reshape(shape), x)


def transpose(x: Tensor, *axes) -> Tensor:
    """Axes permuted like ``numpy.transpose``: reversed when no axes are given."""
    x = _t(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        return apply(ops.Transpose(None), x)
    if sorted(a % x.ndim for a in axes) != list(range(x.ndim)) or len(axes) != x.ndim:
        hint = " (to swap two axes use swapaxes(a, b))" if len(axes) == 2 else ""
        raise ShapeError(
            f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of a tensor of "
            f"shape {x.shape}{hint}\n  at {user_line()}"
        )
    return apply(ops.Transpose(tuple(a % x.ndim for a in axes)), x)


permute = transpose


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    """Axes ``a`` and ``b`` exchanged."""
    x = _t(x)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return apply(ops.Transpose(tuple(perm)), x)


def squeeze(x: Tensor, axis=None) -> Tensor:
    """Size-1 axes removed (only ``axis`` when given; an axis not of size 1 is left, as PyTorch)."""
    x = _t(x)
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = normalize_axes(axis, x.ndim)
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """A size-1 axis inserted at ``axis`` (negative counts from the end of the result)."""
    x = _t(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ShapeError(f"unsqueeze: axis {axis} out of range for result of {nd} dimensions")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Axes ``start_axis`` to ``end_axis`` (inclusive) merged into one."""
    x = _t(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_axis % x.ndim, end_axis % x.ndim
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x repeated along new or size-1 axes to ``shape`` (a view; the gradient sums back)."""
    x = _t(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return apply(ops.BroadcastTo(shape), x)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x summed down to ``shape``: the reverse of ``broadcast_to``."""
    x = _t(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1
    )
    return reshape(sum(x, axes, keepdims=True), shape)


def cat(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Tensors joined along an existing ``axis``."""
    if dim is not None:
        axis = dim
    tensors = [_t(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return apply(ops.Cat(axis), *tensors)


concatenate = cat


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Tensors of equal shape joined along a new ``axis``."""
    if dim is not None:
        axis = dim
    tensors = [_t(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(
            f"stack: all tensors must have the same shape; got {sorted(shapes)}\n  at {user_line()}"
        )
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def matmul(a, b) -> Tensor:
    """Matrix product a @ b with NumPy's rules (1-D promotion, broadcast batch axes)."""
    a = _t(a)
    return apply(ops.MatMul(), a, _lift(b, a))


def index_add(g: Tensor, index, shape) -> Tensor:
    """zeros(shape) with ``g`` added at ``index`` (repeated indices add up)."""
    return apply(ops.IndexAdd(index, tuple(shape)), _t(g))


def zeros(shape, like: Tensor) -> Tensor:
    return constant(np.zeros(shape, dtype=like.dtype))
