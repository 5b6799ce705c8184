"""The reductions under PyTorch's signatures (``cr.sum(input, dim, keepdim)``, ``cr.max``,
``cr.softmax(input, dim)``, ``cr.cumsum``, ``cr.norm``, ...), each the one definition its method
and ``cr.X`` reach. NumPy's ``axis=``/``keepdims=`` are accepted as the same arguments."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.indexing import take_along_dim
from chainrule.autograd.make import apply, constant, recomputed
from chainrule.autograd.pointwise import abs, exp, log, maximum, minimum, sqrt, where
from chainrule.autograd.promotion import _as_np_tensor
from chainrule.autograd.shape import squeeze
from chainrule.backend import xp
from chainrule.errors import ShapeError
from chainrule.ops.base import normalize_axes

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


def _axis(axis, dim):
    """PyTorch's ``dim`` or NumPy's ``axis`` (the same argument under two names)."""
    return dim if dim is not None else axis


def _keep(keepdim, keepdims):
    return keepdims if keepdims is not None else keepdim


def _converted(input, dtype) -> Tensor:
    x = _as_np_tensor(input)
    return x if dtype is None else x.astype(dtype)


def _count(x: Tensor, axes: tuple) -> int:
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """The sum over ``dim`` (all dimensions when None); ``dtype`` converts first. The gradient
    broadcasts back over the summed dimensions."""
    x = _converted(input, dtype)
    return apply(ops.Sum(_axis(axis, dim), _keep(keepdim, keepdims)), x)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """The mean over ``dim`` (all dimensions when None): the sum divided by the number of
    elements; ``dtype`` converts first."""
    x = _converted(input, dtype)
    axes = normalize_axes(_axis(axis, dim), x.ndim)
    n = _count(x, axes)
    return sum(x, axes, _keep(keepdim, keepdims)) * (1.0 / n if n else float("nan"))


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:  # fmt: skip
    """Variance over ``dim`` (all when None): Σ(x - mean x)² / (n - correction).

    As PyTorch, unbiased by default (correction 1, Bessel's); ``unbiased=False`` or
    ``correction=0`` divide by n; PyTorch's old ``var(input, unbiased)`` form (a bool second
    argument) is the flag. ``axis``/``keepdims`` are NumPy's names for ``dim``/``keepdim``.
    """
    x = _as_np_tensor(input)
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalize_axes(_axis(axis, dim), x.ndim)
    d = x - mean(x, axes, keepdim=True)
    denom = _count(x, axes) - correction
    return sum(d * d, axes, _keep(keepdim, keepdims)) * (1.0 / denom if denom > 0 else float("nan"))


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:  # fmt: skip
    """Standard deviation: √var (same arguments as ``var``; unbiased by default)."""
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims))  # fmt: skip


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


def _pick(x, dim, keepdim, which, result, locate=None):
    """The ``(values, indices)`` of the element that ``locate(array, axis=, keepdims=True)``
    picks along ``dim`` (argmax, argmin, or the median's index); the gradient goes to it."""
    x = _as_np_tensor(x)
    if x.ndim == 0:
        return result(x, constant(xp.asarray(0)))
    dim = normalize_axes(dim, x.ndim)[0]
    if x.shape[dim] == 0:
        raise ShapeError(f"{which}: dimension {dim} of a tensor of shape {x.shape} is empty")
    if locate is None:
        locate = xp.argmax if which == "max" else xp.argmin
    idx = recomputed(locate, x, axis=dim, keepdims=True)
    values = take_along_dim(x, idx, dim)
    if not keepdim:
        values = squeeze(values, dim)
        idx = recomputed(xp.squeeze, idx, axis=dim)
    return result(values, idx)


def max(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``max(x)``: the largest value (ties share the gradient equally, as PyTorch);
    ``max(x, dim)``: a ``(values, indices)`` pair along ``dim``, the gradient going to the
    element each index selects; ``max(x, other)``: ``maximum(x, other)``."""
    if isinstance(dim, make.Tensor):
        return maximum(input, dim)
    dim = _axis(axis, dim)
    keepdim = _keep(keepdim, keepdims)
    if dim is None:
        return apply(ops.Max(None, keepdim), _as_np_tensor(input))
    return _pick(input, dim, keepdim, "max", max_result)


def min(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """As ``max``, for the smallest values."""
    if isinstance(dim, make.Tensor):
        return minimum(input, dim)
    dim = _axis(axis, dim)
    keepdim = _keep(keepdim, keepdims)
    if dim is None:
        return apply(ops.Min(None, keepdim), _as_np_tensor(input))
    return _pick(input, dim, keepdim, "min", min_result)


def amax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (one or several; all when None); tied maxima share the
    gradient equally, as ``torch.amax``."""
    return apply(ops.Max(dim, keepdim), _as_np_tensor(input))


def amin(input, dim=None, keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim``, as ``torch.amin``."""
    return apply(ops.Min(dim, keepdim), _as_np_tensor(input))


def argmax(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Indices (int64, no gradient) of the largest values along ``dim`` (of the flattened
    input when None)."""
    return recomputed(xp.argmax, _as_np_tensor(input), axis=_axis(axis, dim),
                      keepdims=_keep(keepdim, keepdims))  # fmt: skip


def argmin(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Indices (int64, no gradient) of the smallest values along ``dim``."""
    return recomputed(xp.argmin, _as_np_tensor(input), axis=_axis(axis, dim),
                      keepdims=_keep(keepdim, keepdims))  # fmt: skip


def _required_dim(name: str, dim, axis) -> int:
    d = _axis(axis, dim)
    if d is None:  # torch.softmax has no default dim: guessing one would silently differ
        raise TypeError(f"{name}() missing required argument 'dim' (the dimension to normalise)")
    return d


def softmax(input, dim=None, dtype=None, *, axis=None) -> Tensor:
    """e^x / Σ e^x along ``dim`` (required, as in ``torch.softmax``), stable for large logits
    (the max is subtracted first); ``dtype`` converts first. ``F.softmax`` adds PyTorch's legacy
    implicit ``dim``."""
    return apply(ops.Softmax(_required_dim("softmax", dim, axis)), _converted(input, dtype))


def log_softmax(input, dim=None, dtype=None, *, axis=None) -> Tensor:
    """x - log Σ e^x along ``dim`` (required), computed stably; ``dtype`` converts first."""
    d = _required_dim("log_softmax", dim, axis)
    return apply(ops.LogSoftmax(d), _converted(input, dtype))


def logsumexp(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log Σ e^x over ``dim`` (all dimensions when None), computed without overflow."""
    x = _as_np_tensor(input)
    dim, keepdim = _axis(axis, dim), _keep(keepdim, keepdims)
    m = recomputed(xp.max, x, axis=dim, keepdims=True)
    out = log(sum(exp(x - m), dim, keepdim=True)) + m
    return out if keepdim else squeeze(out, dim)


# ----- running and whole products -----
def cumsum(input, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim``."""
    x = _converted(input, dtype)
    if x._data.dtype.kind in "biu":
        return recomputed(xp.cumsum, x, axis=dim)
    return apply(ops.CumSum(dim % builtins.max(x.ndim, 1)), x)


def cumprod(input, dim: int, *, dtype=None) -> Tensor:
    """Running products along ``dim``."""
    x = _converted(input, dtype)
    if x._data.dtype.kind in "biu":
        return recomputed(xp.cumprod, x, axis=dim)
    return apply(ops.CumProd(dim % builtins.max(x.ndim, 1)), x)


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The product over ``dim`` (all entries when None)."""
    x = _converted(input, dtype)
    if x._data.dtype.kind in "biu":
        return recomputed(xp.prod, x, axis=dim, keepdims=keepdim)
    return apply(ops.Prod(dim, keepdim), x)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """The vector p-norm over ``dim`` (all entries when None): p = 2 or "fro", 1, inf, -inf,
    0 (the count of nonzeros) or any other number. The gradient of a norm that is 0 is 0."""
    x = _converted(input, dtype)
    if p == float("inf"):
        return amax(abs(x), dim, keepdim) if dim is not None else amax(abs(x))
    if p == float("-inf"):
        return amin(abs(x), dim, keepdim) if dim is not None else amin(abs(x))
    if p == 0:
        return recomputed(lambda a: (a != 0).sum(axis=dim, keepdims=keepdim).astype(a.dtype), x)
    if p == 1:
        return sum(abs(x), dim, keepdim)
    two = p in ("fro", 2, 2.0)
    s = sum(x * x, dim, keepdim) if two else sum(abs(x) ** p, dim, keepdim)
    # A root's derivative at 0 is infinite: where the norm is 0 its gradient is 0, as PyTorch's,
    # through a root taken of 1 there instead.
    zero = s._data == 0
    safe = where(zero, constant(xp.ones((), s.dtype)), s)
    return where(zero, constant(xp.zeros((), s.dtype)), sqrt(safe) if two else safe ** (1.0 / p))
