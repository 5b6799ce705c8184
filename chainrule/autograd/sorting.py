"""Sorting and order statistics (``cr.sort``, ``cr.argsort``, ``cr.topk``, ``cr.median``) under
PyTorch's signatures: ``(values, indices)`` pairs whose values take the gradient back to the
positions the indices name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule.autograd.indexing import take_along_dim
from chainrule.autograd.make import constant, recomputed
from chainrule.autograd.promotion import _as_np_tensor
from chainrule.autograd.reductions import _pick, _ValuesIndices
from chainrule.autograd.shape import reshape
from chainrule.backend import xp
from chainrule.errors import ShapeError
from chainrule.ops.base import normalize_axes

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


class sort_result(_ValuesIndices):
    """What ``sort(x, dim)`` returns: ``values``, ``indices``."""


class topk_result(_ValuesIndices):
    """What ``topk(x, k, dim)`` returns: ``values``, ``indices``."""


class median_result(_ValuesIndices):
    """What ``median(x, dim)`` returns: ``values``, ``indices``."""


def _sort_order(a: xp.ndarray, dim: int, descending: bool) -> xp.ndarray:
    """Indices sorting ``a`` along ``dim``, stable, NaN counted as the largest value (PyTorch)."""
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    # Reversed, sorted ascending (stable), reversed back: descending, and equal values keep
    # their original order, as PyTorch's stable descending sort.
    n = a.shape[dim]
    idx = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
    return (n - 1) - xp.flip(idx, axis=dim)


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> sort_result:
    """x sorted along ``dim``: a ``(values, indices)`` pair with ``values = x.gather(dim,
    indices)``; the gradient goes back to each value's position. Always stable (``stable`` is
    accepted for PyTorch's signature); NaN sorts as the largest value."""
    x = _as_np_tensor(input)
    if x.ndim == 0:
        return sort_result(x, constant(xp.asarray(0)))
    d = normalize_axes(dim, x.ndim)[0]
    idx = recomputed(_sort_order, x, d, descending)
    return sort_result(take_along_dim(x, idx, d), idx)


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (int64, no gradient); see ``sort``."""
    return sort(input, dim, descending, stable).indices


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> topk_result:
    """The ``k`` largest (or, with ``largest=False``, smallest) values along ``dim`` and their
    indices, largest first; the gradient goes to the selected elements."""
    x = _as_np_tensor(input)
    d = normalize_axes(dim, x.ndim)[0] if x.ndim else 0
    n = x.shape[d] if x.ndim else 1
    if not 0 <= int(k) <= n:
        raise ShapeError(
            f"topk: k={k} is out of range for dimension {d} of size {n} (shape {x.shape})"
        )
    if x.ndim == 0:
        return topk_result(x, constant(xp.asarray(0)))
    idx = recomputed(_topk_order, x, d, int(k), largest)
    return topk_result(take_along_dim(x, idx, d), idx)


def _topk_order(a: xp.ndarray, dim: int, k: int, largest: bool) -> xp.ndarray:
    order = _sort_order(a, dim, descending=largest)
    return xp.take(order, xp.arange(k), axis=dim)


def _median_index(a: xp.ndarray, axis: int, keepdims: bool = True) -> xp.ndarray:
    """Index of the lower median along ``axis`` (keepdims), or of the first NaN where one is."""
    dim = axis
    n = a.shape[dim]
    order = xp.argsort(a, axis=dim, kind="stable")
    idx = xp.take(order, [(n - 1) // 2], axis=dim)
    nan = xp.isnan(a) if a.dtype.kind in "fc" else None
    if nan is not None and nan.any():
        has = nan.any(axis=dim, keepdims=True)
        idx = xp.where(has, xp.argmax(nan, axis=dim, keepdims=True), idx)
    return idx


def median(input, dim=None, keepdim: bool = False):
    """The lower median (the ``(n - 1) // 2``-th smallest value; NaN if there is one), as
    ``torch.median``: of all elements without ``dim`` (a tensor), else a ``(values, indices)``
    pair along ``dim``. The gradient goes to the selected element."""
    x = _as_np_tensor(input)
    if dim is None:
        flat = reshape(x, (-1,))
        if flat.shape[0] == 0:
            return constant(xp.asarray(xp.nan, dtype=x.dtype))
        return median(flat, 0).values
    return _pick(x, dim, keepdim, "median", median_result, locate=_median_index)
