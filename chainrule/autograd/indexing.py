"""Selecting, scattering and splitting under PyTorch's signatures and meanings (``cr.gather``,
``cr.scatter_add``, ``cr.index_select``, ``cr.masked_fill``, ``cr.split``, ``cr.narrow``,
``cr.flip``, ``cr.tril``, ...), each the one definition its method and ``cr.X`` reach; each is
written with the ops below it, so it has their gradients (``tests/tensor/test_tensor_methods_torch.py``
checks each against PyTorch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.make import apply, constant, unwrap
from chainrule.autograd.pointwise import where
from chainrule.autograd.promotion import _as_np_tensor, _lift
from chainrule.autograd.shape import broadcast_to, shape_args
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.ops import shape as _shape_ops
from chainrule.ops.base import normalize_axes

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


def take_along_dim(input, indices, dim: int) -> Tensor:
    """x's elements at ``indices`` along ``dim`` (``torch.take_along_dim``; the gradient goes
    back to the taken positions only). ``indices`` has x's number of dimensions."""
    x = _as_np_tensor(input)
    idx = xp.asarray(unwrap(indices))
    dim = normalize_axes(dim, x.ndim)[0]
    grid = xp.ogrid[tuple(slice(0, n) for n in idx.shape)]
    index = tuple(idx if k == dim else grid[k] for k in range(x.ndim))
    return apply(ops.GetItem(index), x)


def gather(input, dim: int, index) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] along ``dim`` (``torch.gather``): ``index``
    has the input's number of dimensions; the gradient goes back to the gathered places."""
    x = _as_np_tensor(input)
    idx = xp.asarray(unwrap(index))
    _check_index("gather", x, idx, normalize_axes(dim, x._data.ndim)[0])
    return take_along_dim(x, idx, dim)


def index_select(input, dim: int, index) -> Tensor:
    """The entries at ``index`` (1-D integers) along ``dim``, copied; gradients add back."""
    x = _as_np_tensor(input)
    idx = xp.asarray(unwrap(index))
    if idx.ndim != 1:
        raise ShapeError(f"index_select: index must be 1-D, got shape {idx.shape}")
    dim = dim % x._data.ndim
    _check_index("index_select", x, idx, dim)
    return x[(slice(None),) * dim + (idx,)]


def _scatter_index(x: Tensor, dim: int, index) -> tuple:
    idx = xp.asarray(unwrap(index))
    if idx.ndim != x._data.ndim:
        raise ShapeError(
            f"scatter: index must have the tensor's {x._data.ndim} dimensions, got shape "
            f"{idx.shape} for a tensor of shape {tuple(x.shape)}"
        )
    dim = dim % x._data.ndim
    _check_index("scatter", x, idx, dim)
    grid = xp.ogrid[tuple(slice(0, n) for n in idx.shape)]
    return tuple(idx if k == dim else grid[k] for k in range(idx.ndim)), idx.shape


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy with ``src`` (or ``value``) written at ``index`` along ``dim``
    (``torch.scatter``); the gradient reaches ``src`` at the written places and the rest."""
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add")
    x = _as_np_tensor(input)
    full, shape = _scatter_index(x, dim, index)
    if src is None and value is None:
        raise TypeError("scatter: give src or value")
    if src is None:
        src = value
    if isinstance(src, make.Tensor):
        src = src[tuple(slice(0, n) for n in shape)]
    out = x.clone()
    out[full] = src
    return out


def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy with ``src`` added at ``index`` along ``dim`` (repeated indices add up)."""
    x = _as_np_tensor(input)
    full, shape = _scatter_index(x, dim, index)
    part = _lift(src, x)[tuple(slice(0, n) for n in shape)]
    return x + index_add(part, full, x._data.shape)


def index_add(g, index, shape) -> Tensor:
    """zeros(shape) with ``g`` added at ``index`` (repeated indices add up): the VJP rules'
    scatter, as ``backend.ArrayMath.index_add`` on arrays."""
    return apply(ops.IndexAdd(index, tuple(shape)), _as_np_tensor(g))


def masked_fill(input, mask, value) -> Tensor:
    """``value`` where ``mask`` (bool, broadcast) holds, else the input's entries."""
    x = _as_np_tensor(input)
    return where(mask, _lift(value, x).astype(x._data.dtype), x)


def masked_select(input, mask) -> Tensor:
    """The entries where ``mask`` (bool, broadcast) holds, as a 1-D tensor."""
    x = _as_np_tensor(input)
    m = xp.asarray(unwrap(mask), dtype=bool)
    shape = xp.broadcast_shapes(m.shape, x._data.shape)
    return broadcast_to(x, shape)[xp.broadcast_to(m, shape)]


def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (entries above ``diagonal`` zeroed)."""
    x = _as_np_tensor(input)
    if x._data.ndim >= 2:
        return apply(_shape_ops.Triangle(diagonal, upper=False), x)
    keep = xp.tril(xp.ones(x._data.shape[-2:], dtype=bool), diagonal)
    return where(keep, x, constant(xp.zeros((), x._data.dtype)))


def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (entries below ``diagonal`` zeroed)."""
    x = _as_np_tensor(input)
    if x._data.ndim >= 2:
        return apply(_shape_ops.Triangle(diagonal, upper=True), x)
    keep = xp.triu(xp.ones(x._data.shape[-2:], dtype=bool), diagonal)
    return where(keep, x, constant(xp.zeros((), x._data.dtype)))


def flip(input, dims) -> Tensor:
    """The entries in reverse order along ``dims``, copied (not a view, as in PyTorch)."""
    x = _as_np_tensor(input)
    dims = {d % x._data.ndim for d in shape_args((dims,))}
    if x._data.ndim and x._data.dtype.kind == "f":
        return apply(_shape_ops.Flip(tuple(sorted(dims))), x)
    index = tuple(slice(None, None, -1) if k in dims else slice(None)
                  for k in range(x._data.ndim))  # fmt: skip
    return x[index].clone()


def roll(input, shifts, dims=None) -> Tensor:
    """Entries shifted by ``shifts`` along ``dims``, wrapping around (of the flattened tensor
    when ``dims`` is None)."""
    x = _as_np_tensor(input)
    if dims is None:
        return roll(x.flatten(), shifts, 0).reshape(x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    n = x._data.ndim
    if x._data.dtype.kind == "f" and len(shifts) == len(dims) and all(-n <= d < n for d in dims):
        return apply(_shape_ops.Roll(shifts, tuple(d % n for d in dims)), x)
    out = x
    for s, d in zip(shifts, dims):
        out = index_select(out, d, xp.roll(xp.arange(x._data.shape[d]), s))
    return out


# ----- splitting into views -----
def narrow(input, dim: int, start: int, length: int) -> Tensor:
    """Elements ``start`` .. ``start + length - 1`` along ``dim``: a view sharing storage."""
    x = _as_np_tensor(input)
    n = x._data.shape[dim]
    start = start + n if start < 0 else start
    if not (0 <= start and length >= 0 and start + length <= n):
        raise ShapeError(
            f"narrow: start {start} and length {length} do not fit dimension {dim} of size "
            f"{n} (shape {tuple(x.shape)})"
        )
    dim = dim % x._data.ndim
    return x[(slice(None),) * dim + (slice(start, start + length),)]


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``dim``: of ``split_size`` each (the last may be shorter), or of the
    listed sizes. Each piece is a view."""
    x = _as_np_tensor(tensor)
    n = x._data.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ShapeError(
                f"split: sizes {sizes} add up to {sum(sizes)}, but dimension {dim} has size "
                f"{n} (shape {tuple(x.shape)})"
            )
    starts = xp.cumsum([0, *sizes[:-1]])
    return _several("split", [narrow(x, dim, int(s), k) for s, k in zip(starts, sizes)])


def chunk(input, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces along ``dim``, each of ceil(size / chunks) but the last."""
    x = _as_np_tensor(input)
    n = x._data.shape[dim]
    return split(x, max(1, -(-n // chunks)), dim)


def unbind(input, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, with that dimension removed (views)."""
    x = _as_np_tensor(input)
    dim = dim % x._data.ndim
    n = x._data.shape[dim]
    return _several("unbind", [x[(slice(None),) * dim + (i,)] for i in range(n)])


def _several(fn: str, pieces: list) -> tuple:
    """The views one call returned together: as in PyTorch, an in-place write into one of them
    while recording gradients is refused (``inplace.check_recordable`` names ``fn``)."""
    for p in pieces:
        if getattr(p, "_vops", None) is not None and p._vmeta is None:
            p._vmeta = fn
    return tuple(pieces)


def _check_index(op: str, x: Tensor, idx: xp.ndarray, dim: int) -> None:
    """PyTorch's checks of the index of ``gather``, ``scatter`` and ``index_select``: integers
    within [0, size) along ``dim``. NumPy would wrap a negative index (-1 the last entry), which
    PyTorch refuses; each op's own exception and words, then the user's line."""
    if idx.dtype.kind not in "iu":
        what = "int32 or int64" if op == "index_select" else "int32/int64"
        raise RuntimeError(
            f"{op}(): Expected dtype {what} for index (got {idx.dtype})\n  at {user_line()}"
        )
    size = x._data.shape[dim] if x._data.ndim else 1
    bad = (idx < 0) | (idx >= size)
    if not bad.any():
        return
    first = int(idx.reshape(-1)[xp.argmax(bad.reshape(-1))])
    at = f"\n  at {user_line()}"
    if op != "index_select":
        raise RuntimeError(
            f"index {first} is out of bounds for dimension {dim} with size {size}{at}"
        )
    if dim == 1 and x._data.ndim >= 2:  # PyTorch's kernel for dim 1 words it so
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={first} axis_dim={size}{at}")
    raise IndexError(
        f"index out of range in self (index_select: index {first} along dimension {dim} of "
        f"size {size}; a negative index is not counted from the end){at}"
    )
