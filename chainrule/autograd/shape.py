"""The differentiable shape functions (``cr.reshape``, ``cr.transpose``, ``cr.cat``, ...), with
PyTorch's meanings: which results are views of their input's storage, how dimensions are
counted. ``tensor_math`` offers them too, as part of the namespace VJP rules are written in."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd.make import apply
from chainrule.autograd.promotion import _as_np_tensor
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.autograd.views import mark_view, view_op
from chainrule.errors import ShapeError
from chainrule.ops.base import normalize_axes


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    x = _as_np_tensor(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    op = ops.Reshape(shape)
    out = apply(op, x)
    # A view when NumPy could reshape without copying, as PyTorch's reshape.
    return (
        mark_view(out, x, op)
        if out._data.base is not None and xp.may_share_memory(out._data, x._data)
        else out
    )


def transpose(x: Tensor, *dims) -> Tensor:
    """Dimensions ``dim0`` and ``dim1`` swapped, as ``torch.transpose(x, dim0, dim1)`` (a view).

    NumPy's forms stay accepted where they cannot be mistaken for PyTorch's: no argument reverses
    the dimensions, and a full permutation (a tuple, or three or more ints) permutes them.
    """
    x = _as_np_tensor(x)
    if len(dims) == 2 and all(isinstance(d, (int, xp.integer)) for d in dims):
        return swapaxes(x, dims[0], dims[1])
    if not dims:
        return view_op(ops.Transpose(None), x)
    return permute(x, *dims)


def permute(x: Tensor, *dims) -> Tensor:
    """Dimensions reordered: dimension i of the result is dimension ``dims[i]`` of x (a view)."""
    x = _as_np_tensor(x)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if len(dims) != x.ndim or sorted(int(a) % builtins.max(x.ndim, 1) for a in dims) != list(
        range(x.ndim)
    ):
        hint = " (to swap two dimensions use transpose(dim0, dim1))" if len(dims) == 2 else ""
        raise ShapeError(
            f"permute: dims {dims} are not a permutation of the {x.ndim} dimensions of a tensor "
            f"of shape {x.shape}{hint}"
        )
    return view_op(ops.Transpose(tuple(int(a) % x.ndim for a in dims)), x)


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    """Axes ``a`` and ``b`` exchanged (a view; ``torch.swapaxes``)."""
    x = _as_np_tensor(x)
    for d in (a, b):
        if not -builtins.max(x.ndim, 1) <= d < builtins.max(x.ndim, 1):
            raise ShapeError(
                f"transpose: dimension {d} is out of range for a tensor of shape {x.shape}"
            )
    if x.ndim < 2:
        return x
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return view_op(ops.Transpose(tuple(perm)), x)


def squeeze(input, dim=None, *, axis=None) -> Tensor:
    """``input`` without its size-1 dimensions (only ``dim`` when given; a dimension not of size
    1 is left, as PyTorch): a view."""
    x = _as_np_tensor(input)
    dim = dim if dim is not None else axis
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = normalize_axes(dim, x.ndim)
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(input, dim=None, *, axis=None) -> Tensor:
    """``input`` with a size-1 dimension inserted at ``dim`` (negative counts from the end of
    the result): a view."""
    x = _as_np_tensor(input)
    dim = dim if dim is not None else axis
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise ShapeError(f"unsqueeze: axis {dim} out of range for result of {nd} dimensions")
    dim %= nd
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def flatten(input, start_dim: int = 0, end_dim: int = -1, *, start_axis=None, end_axis=None):
    """Dimensions ``start_dim`` to ``end_dim`` (inclusive) merged into one (NumPy-style
    ``start_axis``/``end_axis`` are the same arguments)."""
    x = _as_np_tensor(input)
    start = start_dim if start_axis is None else start_axis
    end = end_dim if end_axis is None else end_axis
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start % x.ndim, end % x.ndim
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x repeated along new or size-1 axes to ``shape`` (a view; the gradient sums back)."""
    x = _as_np_tensor(x)
    shape = tuple(shape)
    if shape == x.shape:
        return x
    return view_op(ops.BroadcastTo(shape), x)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """x summed down to ``shape``: the reverse of ``broadcast_to``."""
    x = _as_np_tensor(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1
    )
    return reshape(apply(ops.Sum(axes, True), x), shape)


def cat(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Tensors joined along an existing ``axis``."""
    if dim is not None:
        axis = dim
    tensors = [_as_np_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return apply(ops.Cat(axis), *tensors)


concatenate = cat


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Tensors of equal shape joined along a new ``axis``."""
    if dim is not None:
        axis = dim
    tensors = [_as_np_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have the same shape; got {sorted(shapes)}")
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def shape_args(shape: tuple) -> tuple[int, ...]:
    """A method's sizes as PyTorch takes them, spread or as one sequence: ``x.view(2, 3)`` and
    ``x.view((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def numel(input) -> int:
    """The number of elements (``torch.numel``)."""
    return _as_np_tensor(input).numel()
