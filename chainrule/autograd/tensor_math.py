"""The differentiable functions users call (``cr.exp(x)``, ``cr.cat([...])``, ...).

Each wraps one primitive op, or composes a few. This module is also the math namespace handed to
VJP rules when the backward pass is recorded (``create_graph=True``): it offers the same names as
``backend.ArrayMath`` (``exp``, ``where``, ``sum_to``, ``index_add``, ...) on Tensors.
"""

from __future__ import annotations

import numpy as np

from chainrule import backend as _backend
from chainrule import ops
from chainrule.autograd import autocast as _autocast
from chainrule.autograd.promotion import _as_np_tensor, _lift, _pair
from chainrule.autograd.tensor import Tensor, _raw, apply, constant, recomputed

# The shape functions are offered here too: this module is the namespace VJP rules use.
from chainrule.autograd.tensor_shape import (  # noqa: F401
    broadcast_to,
    cat,
    concatenate,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
    unsqueeze,
)
from chainrule.backend import get_default_dtype
from chainrule.errors import ShapeError
from chainrule.ops.base import normalize_axes


# ----- elementwise -----
def add(a, b) -> Tensor:
    """a + b, broadcasting as NumPy."""
    a = _as_np_tensor(a)
    return apply(ops.Add(), *_pair(a, _lift(b, a)))


def mul(a, b) -> Tensor:
    """a * b, broadcasting as NumPy."""
    a = _as_np_tensor(a)
    return apply(ops.Mul(), *_pair(a, _lift(b, a)))


def exp(x: Tensor) -> Tensor:
    """e^x elementwise. d/dx = e^x (the output is reused in the backward pass)."""
    return apply(ops.Exp(), _as_np_tensor(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm elementwise. d/dx = 1/x."""
    return apply(ops.Log(), _as_np_tensor(x))


def sqrt(x: Tensor) -> Tensor:
    """√x elementwise. d/dx = 1 / (2√x)."""
    return apply(ops.Sqrt(), _as_np_tensor(x))


def abs(x: Tensor) -> Tensor:
    """|x| elementwise. d/dx = sign(x), 0 at 0."""
    return apply(ops.Abs(), _as_np_tensor(x))


def sin(x: Tensor) -> Tensor:
    """sin x elementwise (x in radians). d/dx = cos x."""
    return apply(ops.Sin(), _as_np_tensor(x))


def cos(x: Tensor) -> Tensor:
    """cos x elementwise (x in radians). d/dx = −sin x."""
    return apply(ops.Cos(), _as_np_tensor(x))


def tanh(x: Tensor) -> Tensor:
    """tanh x elementwise. d/dx = 1 - tanh² x."""
    return apply(ops.Tanh(), _as_np_tensor(x))


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^-x) elementwise, without overflow for large |x|. σ' = σ (1 - σ)."""
    return apply(ops.Sigmoid(), _as_np_tensor(x))


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise. d/dx = 1 where x > 0, else 0."""
    return apply(ops.Relu(), _as_np_tensor(x))


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None). The gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return apply(ops.Clip(_raw(min), _raw(max)), _as_np_tensor(x))


clamp = clip


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b); at ties the gradient is split equally."""
    a = _as_np_tensor(a)
    return apply(ops.Maximum(), *_pair(a, _lift(b, a)))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b); at ties the gradient is split equally."""
    a = _as_np_tensor(a)
    return apply(ops.Minimum(), *_pair(a, _lift(b, a)))


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
    return apply(ops.Where(cond), *_pair(a, b))


def sign(x) -> Tensor:
    """-1, 0 or 1 elementwise (no gradient)."""
    return recomputed(np.sign, x)


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``."""
    return _as_np_tensor(x).astype(dtype)


# ----- reductions -----
def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None). The gradient broadcasts back over the summed axes."""
    return apply(ops.Sum(axis, keepdims), _as_np_tensor(x))


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None): the sum divided by the number of elements."""
    x = _as_np_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(x, axes, keepdims) * (1.0 / n if n else float("nan"))


def var(
    x: Tensor,
    axis=None,
    keepdims: bool = False,
    correction: int | None = None,
    *,
    unbiased: bool | None = None,
    dim=None,
    keepdim: bool | None = None,
) -> Tensor:
    """Variance over ``dim`` (all when None): Σ(x - mean x)² / (n - correction).

    As PyTorch, unbiased by default (correction 1, Bessel's); ``unbiased=False`` or
    ``correction=0`` divide by n. ``axis``/``keepdims`` are NumPy's names for ``dim``/``keepdim``.
    """
    x = _as_np_tensor(x)
    axis = dim if dim is not None else axis
    keepdims = keepdim if keepdim is not None else keepdims
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalize_axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    d = x - mean(x, axes, keepdims=True)
    denom = n - correction
    return sum(d * d, axes, keepdims) * (1.0 / denom if denom > 0 else float("nan"))


def std(x: Tensor, *args, **kwargs) -> Tensor:
    """Standard deviation: √var (same arguments as ``var``; unbiased by default)."""
    return sqrt(var(x, *args, **kwargs))


class _ValuesIndices(tuple):
    """A ``(values, indices)`` pair with those names, as PyTorch's ``torch.return_types``."""

    __slots__ = ()

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(values={self[0]!r}, indices={self[1]!r})"


class max_result(_ValuesIndices):
    """What ``max(x, dim)`` returns: ``values``, ``indices``."""


class min_result(_ValuesIndices):
    """What ``min(x, dim)`` returns: ``values``, ``indices``."""


def take_along_dim(x: Tensor, indices, dim: int) -> Tensor:
    """x's elements at ``indices`` along ``dim`` (``torch.take_along_dim``; the gradient goes
    back to the taken positions only). ``indices`` has x's number of dimensions."""
    x = _as_np_tensor(x)
    idx = np.asarray(_raw(indices))
    dim = normalize_axes(dim, x.ndim)[0]
    grid = np.ogrid[tuple(slice(0, n) for n in idx.shape)]
    index = tuple(idx if k == dim else grid[k] for k in range(x.ndim))
    return apply(ops.GetItem(index), x)


def _pick(x, dim, keepdim, which, result, locate=None):
    """The ``(values, indices)`` of the element that ``locate(array, axis=, keepdims=True)``
    picks along ``dim`` (argmax, argmin, or the median's index); the gradient goes to it."""
    x = _as_np_tensor(x)
    if x.ndim == 0:
        return result(x, constant(np.asarray(0)))
    dim = normalize_axes(dim, x.ndim)[0]
    if x.shape[dim] == 0:
        raise ShapeError(f"{which}: dimension {dim} of a tensor of shape {x.shape} is empty")
    if locate is None:
        locate = np.argmax if which == "max" else np.argmin
    idx = recomputed(locate, x, axis=dim, keepdims=True)
    values = take_along_dim(x, idx, dim)
    if not keepdim:
        values = squeeze(values, dim)
        idx = recomputed(np.squeeze, idx, axis=dim)
    return result(values, idx)


def max(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``max(x)``: the largest value (ties share the gradient equally, as PyTorch);
    ``max(x, dim)``: a ``(values, indices)`` pair along ``dim``, the gradient going to the
    element each index selects; ``max(x, other)``: ``maximum(x, other)``."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        return apply(ops.Max(None, keepdim), _as_np_tensor(x))
    return _pick(x, dim, keepdim, "max", max_result)


def min(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """As ``max``, for the smallest values."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        return apply(ops.Min(None, keepdim), _as_np_tensor(x))
    return _pick(x, dim, keepdim, "min", min_result)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (one or several; all when None); tied maxima share the
    gradient equally, as ``torch.amax``."""
    return apply(ops.Max(dim, keepdim), _as_np_tensor(x))


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim``, as ``torch.amin``."""
    return apply(ops.Min(dim, keepdim), _as_np_tensor(x))


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the largest value over ``axis`` (int64, no gradient)."""
    return recomputed(np.argmax, x, axis=axis, keepdims=keepdims)


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value over ``axis`` (int64, no gradient)."""
    return recomputed(np.argmin, x, axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along ``axis``, stable for large logits (the max is subtracted first)."""
    return apply(ops.Softmax(axis), _as_np_tensor(x))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - log Σ e^x along ``axis``, stable for large logits."""
    return apply(ops.LogSoftmax(axis), _as_np_tensor(x))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """log Σ e^x over ``axis``, computed without overflow."""
    x = _as_np_tensor(x)
    m = recomputed(np.max, x, axis=axis, keepdims=True)
    out = log(sum(exp(x - m), axis, keepdims=True)) + m
    return out if keepdims else squeeze(out, axis if axis is not None else None)


def matmul(a, b) -> Tensor:
    """Matrix product a @ b with NumPy's rules (1-D promotion, broadcast batch axes)."""
    a = _as_np_tensor(a)
    if _backend.autocast_dtype is not None:  # on autocast's lower-precision list
        a, b = _autocast.lower(a, b)
    return apply(ops.MatMul(), *_pair(a, _lift(b, a)))


def index_add(g: Tensor, index, shape) -> Tensor:
    """zeros(shape) with ``g`` added at ``index`` (repeated indices add up)."""
    return apply(ops.IndexAdd(index, tuple(shape)), _as_np_tensor(g))


def zeros(shape, like: Tensor) -> Tensor:
    return constant(np.zeros(shape, dtype=like.dtype))


class sort_result(_ValuesIndices):
    """What ``sort(x, dim)`` returns: ``values``, ``indices``."""


class topk_result(_ValuesIndices):
    """What ``topk(x, k, dim)`` returns: ``values``, ``indices``."""


class median_result(_ValuesIndices):
    """What ``median(x, dim)`` returns: ``values``, ``indices``."""


def _sort_order(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Indices sorting ``a`` along ``dim``, stable, NaN counted as the largest value (PyTorch)."""
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    # Reversed, sorted ascending (stable), reversed back: descending, and equal values keep
    # their original order, as PyTorch's stable descending sort.
    n = a.shape[dim]
    idx = np.argsort(np.flip(a, axis=dim), axis=dim, kind="stable")
    return (n - 1) - np.flip(idx, axis=dim)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> sort_result:
    """x sorted along ``dim``: a ``(values, indices)`` pair with ``values = x.gather(dim,
    indices)``; the gradient goes back to each value's position. Always stable (``stable`` is
    accepted for PyTorch's signature); NaN sorts as the largest value."""
    x = _as_np_tensor(x)
    if x.ndim == 0:
        return sort_result(x, constant(np.asarray(0)))
    d = normalize_axes(dim, x.ndim)[0]
    idx = recomputed(_sort_order, x, d, descending)
    return sort_result(take_along_dim(x, idx, d), idx)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (int64, no gradient); see ``sort``."""
    return sort(x, dim, descending, stable).indices


def topk(
    x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> topk_result:
    """The ``k`` largest (or, with ``largest=False``, smallest) values along ``dim`` and their
    indices, largest first; the gradient goes to the selected elements."""
    x = _as_np_tensor(x)
    d = normalize_axes(dim, x.ndim)[0] if x.ndim else 0
    n = x.shape[d] if x.ndim else 1
    if not 0 <= int(k) <= n:
        raise ShapeError(
            f"topk: k={k} is out of range for dimension {d} of size {n} (shape {x.shape})"
        )
    if x.ndim == 0:
        return topk_result(x, constant(np.asarray(0)))
    idx = recomputed(_topk_order, x, d, int(k), largest)
    return topk_result(take_along_dim(x, idx, d), idx)


def _topk_order(a: np.ndarray, dim: int, k: int, largest: bool) -> np.ndarray:
    order = _sort_order(a, dim, descending=largest)
    return np.take(order, np.arange(k), axis=dim)


def _median_index(a: np.ndarray, axis: int, keepdims: bool = True) -> np.ndarray:
    """Index of the lower median along ``axis`` (keepdims), or of the first NaN where one is."""
    dim = axis
    n = a.shape[dim]
    order = np.argsort(a, axis=dim, kind="stable")
    idx = np.take(order, [(n - 1) // 2], axis=dim)
    nan = np.isnan(a) if a.dtype.kind in "fc" else None
    if nan is not None and nan.any():
        has = nan.any(axis=dim, keepdims=True)
        idx = np.where(has, np.argmax(nan, axis=dim, keepdims=True), idx)
    return idx


def median(x: Tensor, dim=None, keepdim: bool = False):
    """The lower median (the ``(n - 1) // 2``-th smallest value; NaN if there is one), as
    ``torch.median``: of all elements without ``dim`` (a tensor), else a ``(values, indices)``
    pair along ``dim``. The gradient goes to the selected element."""
    x = _as_np_tensor(x)
    if dim is None:
        flat = reshape(x, (-1,))
        if flat.shape[0] == 0:
            return constant(np.asarray(np.nan, dtype=x.dtype))
        return median(flat, 0).values
    return _pick(x, dim, keepdim, "median", median_result, locate=_median_index)
