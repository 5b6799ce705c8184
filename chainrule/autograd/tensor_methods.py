"""The Tensor methods that PyTorch programs call beyond the core operators: the method forms of
the operators (``pow``, ``add(alpha=)``, ``mm``, ...), splitting, selecting and scattering
(``split``, ``gather``, ``scatter_add``, ...), running and whole reductions (``cumsum``,
``prod``, ``norm``), and the piecewise-constant functions. Each is written with the ops and
functions below it, so it has their gradients; ``tests/test_tensor_methods.py`` checks each
against PyTorch.

They live here so that ``tensor.py`` keeps the Tensor's core; ``chainrule.autograd`` adds them
to the class when it loads (``tensor.install_methods``).
"""

from __future__ import annotations

import functools

import numpy as np

from chainrule import devices as _device
from chainrule import ops
from chainrule.autograd import api as _api
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.promotion import _lift
from chainrule.autograd.tensor import Tensor, _raw, apply, constant, recomputed
from chainrule.autograd.tensor_math_methods import _shape_args
from chainrule.autograd.tensor_operators import legacy_alpha
from chainrule.errors import ShapeError, user_line
from chainrule.ops import shape as _shape_ops
from chainrule.ops.base import normalize_axes


class TorchMethods:
    """A namespace of methods for ``Tensor`` (see the module's docstring)."""

    # ----- PyTorch's method forms of the operators -----
    def pow(self, exponent):
        """``self ** exponent`` (a number or a tensor, broadcast)."""
        return self.__pow__(exponent)

    def add(self, other, *legacy, alpha=1):
        """``self + alpha * other`` (also PyTorch's deprecated ``add(alpha, other)``)."""
        other, alpha = legacy_alpha("add", other, legacy, alpha)
        return self + (other if alpha == 1 else alpha * other)

    def sub(self, other, *legacy, alpha=1):
        """``self - alpha * other`` (also PyTorch's deprecated ``sub(alpha, other)``)."""
        other, alpha = legacy_alpha("sub", other, legacy, alpha)
        return self - (other if alpha == 1 else alpha * other)

    def mul(self, other):
        return self * other

    def div(self, other, *, rounding_mode=None):
        """``self / other``; ``rounding_mode`` "floor" or "trunc" rounds the quotient."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self // other
        if rounding_mode == "trunc":
            return recomputed(lambda a, b: np.trunc(a / b).astype(np.result_type(a, b)), self,
                           _raw(other))  # fmt: skip
        raise ValueError(
            f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}"
        )

    def matmul(self, other):
        return self @ other

    def dot(self, other) -> Tensor:
        """The inner product with another 1-D tensor (``cr.dot``)."""
        return _api.dot(self, other)

    def neg(self):
        return -self

    def square(self):
        return self * self

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    # Logic on truth values (nonzero is true), bool results outside the graph, as PyTorch.
    def logical_and(self, other):
        return recomputed(np.logical_and, self, _raw(other))

    def logical_or(self, other):
        return recomputed(np.logical_or, self, _raw(other))

    def logical_xor(self, other):
        return recomputed(np.logical_xor, self, _raw(other))

    def logical_not(self):
        return recomputed(np.logical_not, self)

    def clone(self):
        """A copy in new storage that stays in the graph (gradients flow back to ``self``)."""
        return apply(ops.Clone(), self)

    def contiguous(self):
        """The tensor itself when its storage is C-ordered, else a copy in the graph that is."""
        return self if self._data.flags.c_contiguous else self.clone()

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """Elements ``start`` .. ``start + length - 1`` along ``dim``: a view sharing storage."""
        n = self._data.shape[dim]
        start = start + n if start < 0 else start
        if not (0 <= start and length >= 0 and start + length <= n):
            raise ShapeError(
                f"narrow: start {start} and length {length} do not fit dimension {dim} of size "
                f"{n} (shape {tuple(self.shape)})"
            )
        dim = dim % self._data.ndim
        return self[(slice(None),) * dim + (slice(start, start + length),)]

    # ----- splitting, selecting, scattering (PyTorch's meanings) -----
    def split(self, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along ``dim``: of ``split_size`` each (the last may be shorter), or of the
        listed sizes. Each piece is a view."""
        n = self._data.shape[dim]
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
                    f"{n} (shape {tuple(self.shape)})"
                )
        starts = np.cumsum([0, *sizes[:-1]])
        return _several("split", [self.narrow(dim, int(s), k) for s, k in zip(starts, sizes)])

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most ``chunks`` pieces along ``dim``, each of ceil(size / chunks) but the last."""
        n = self._data.shape[dim]
        return self.split(max(1, -(-n // chunks)), dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, with that dimension removed (views)."""
        dim = dim % self._data.ndim
        n = self._data.shape[dim]
        return _several("unbind", [self[(slice(None),) * dim + (i,)] for i in range(n)])

    def index_select(self, dim: int, index) -> Tensor:
        """The entries at ``index`` (1-D integers) along ``dim``, copied; gradients add back."""
        idx = np.asarray(_raw(index))
        if idx.ndim != 1:
            raise ShapeError(f"index_select: index must be 1-D, got shape {idx.shape}")
        dim = dim % self._data.ndim
        _check_index("index_select", self, idx, dim)
        return self[(slice(None),) * dim + (idx,)]

    def gather(self, dim: int, index) -> Tensor:
        """out[i][j][k] = self[index[i][j][k]][j][k] along ``dim`` (``torch.gather``): ``index``
        has this tensor's number of dimensions; the gradient goes back to the gathered places."""
        idx = np.asarray(_raw(index))
        _check_index("gather", self, idx, normalize_axes(dim, self._data.ndim)[0])
        return _fn.take_along_dim(self, idx, dim)

    def _scatter_index(self, dim: int, index) -> tuple:
        idx = np.asarray(_raw(index))
        if idx.ndim != self._data.ndim:
            raise ShapeError(
                f"scatter: index must have the tensor's {self._data.ndim} dimensions, got shape "
                f"{idx.shape} for a tensor of shape {tuple(self.shape)}"
            )
        dim = dim % self._data.ndim
        _check_index("scatter", self, idx, dim)
        grid = np.ogrid[tuple(slice(0, n) for n in idx.shape)]
        return tuple(idx if k == dim else grid[k] for k in range(idx.ndim)), idx.shape

    def scatter(self, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
        """A copy with ``src`` (or ``value``) written at ``index`` along ``dim``
        (``torch.scatter``); the gradient reaches ``src`` at the written places and the rest."""
        if reduce is not None:
            raise NotImplementedError("scatter: reduce= is not supported; use scatter_add")
        full, shape = self._scatter_index(dim, index)
        if src is None and value is None:
            raise TypeError("scatter: give src or value")
        if src is None:
            src = value
        if isinstance(src, Tensor):
            src = src[tuple(slice(0, n) for n in shape)]
        out = self.clone()
        out[full] = src
        return out

    def scatter_add(self, dim: int, index, src) -> Tensor:
        """A copy with ``src`` added at ``index`` along ``dim`` (repeated indices add up)."""
        full, shape = self._scatter_index(dim, index)
        part = _lift(src, self)[tuple(slice(0, n) for n in shape)]
        return self + _fn.index_add(part, full, self._data.shape)

    def masked_fill(self, mask, value) -> Tensor:
        """``value`` where ``mask`` (bool, broadcast) holds, else this tensor's entries."""
        return _fn.where(mask, _lift(value, self).astype(self._data.dtype), self)

    def masked_select(self, mask) -> Tensor:
        """The entries where ``mask`` (bool, broadcast) holds, as a 1-D tensor."""
        m = np.asarray(_raw(mask), dtype=bool)
        shape = np.broadcast_shapes(m.shape, self._data.shape)
        return self.expand(*shape)[np.broadcast_to(m, shape)]

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dimensions (entries above ``diagonal`` zeroed)."""
        if self._data.ndim >= 2:
            return apply(_shape_ops.Triangle(diagonal, upper=False), self)
        keep = np.tril(np.ones(self._data.shape[-2:], dtype=bool), diagonal)
        return _fn.where(keep, self, constant(np.zeros((), self._data.dtype)))

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dimensions (entries below ``diagonal`` zeroed)."""
        if self._data.ndim >= 2:
            return apply(_shape_ops.Triangle(diagonal, upper=True), self)
        keep = np.triu(np.ones(self._data.shape[-2:], dtype=bool), diagonal)
        return _fn.where(keep, self, constant(np.zeros((), self._data.dtype)))

    def flip(self, *dims) -> Tensor:
        """The entries in reverse order along ``dims``, copied (not a view, as in PyTorch)."""
        dims = {d % self._data.ndim for d in _shape_args(dims)}
        if self._data.ndim and self._data.dtype.kind == "f":
            return apply(_shape_ops.Flip(tuple(sorted(dims))), self)
        index = tuple(slice(None, None, -1) if k in dims else slice(None)
                      for k in range(self._data.ndim))  # fmt: skip
        return self[index].clone()

    def roll(self, shifts, dims=None) -> Tensor:
        """Entries shifted by ``shifts`` along ``dims``, wrapping around (of the flattened tensor
        when ``dims`` is None)."""
        if dims is None:
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        n = self._data.ndim
        if (
            self._data.dtype.kind == "f"
            and len(shifts) == len(dims)
            and all(-n <= d < n for d in dims)
        ):
            return apply(_shape_ops.Roll(shifts, tuple(d % n for d in dims)), self)
        out = self
        for s, d in zip(shifts, dims):
            out = out.index_select(d, np.roll(np.arange(self._data.shape[d]), s))
        return out

    def repeat(self, *sizes) -> Tensor:
        """This tensor tiled ``sizes`` times along each dimension (``torch.repeat``, NumPy's
        ``tile``): shape (s0·d0, s1·d1, ...), with new leading dimensions if ``sizes`` is longer."""
        sizes = _shape_args(sizes)
        if len(sizes) < self._data.ndim:
            raise ShapeError(
                f"repeat: {len(sizes)} repeat counts for a tensor of {self._data.ndim} "
                f"dimensions (shape {tuple(self.shape)}); give at least one per dimension"
            )
        shape = (1,) * (len(sizes) - self._data.ndim) + tuple(self._data.shape)
        inter = [v for n in shape for v in (1, n)]
        wide = [v for s, n in zip(sizes, shape) for v in (s, n)]
        out = self.reshape(*inter).expand(*wide)
        return out.reshape(*[s * n for s, n in zip(sizes, shape)])

    # ----- running and whole reductions -----
    def cumsum(self, dim: int, *, dtype=None) -> Tensor:
        """Running sums along ``dim``."""
        x = self if dtype is None else self.astype(dtype)
        if x._data.dtype.kind in "biu":
            return recomputed(np.cumsum, x, axis=dim)
        return apply(ops.CumSum(dim % max(x.ndim, 1)), x)

    def cumprod(self, dim: int, *, dtype=None) -> Tensor:
        """Running products along ``dim``."""
        x = self if dtype is None else self.astype(dtype)
        if x._data.dtype.kind in "biu":
            return recomputed(np.cumprod, x, axis=dim)
        return apply(ops.CumProd(dim % max(x.ndim, 1)), x)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
        """The product over ``dim`` (all entries when None)."""
        x = self if dtype is None else self.astype(dtype)
        if x._data.dtype.kind in "biu":
            return recomputed(np.prod, x, axis=dim, keepdims=keepdim)
        return apply(ops.Prod(dim, keepdim), x)

    def logsumexp(self, dim, keepdim: bool = False) -> Tensor:
        """log Σ exp over ``dim``, without overflow."""
        return _fn.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
        """The vector p-norm over ``dim`` (all entries when None): p = 2 or "fro", 1, inf, -inf,
        0 (the count of nonzeros) or any other number. The 2-norm's gradient at 0 is 0."""
        x = self if dtype is None else self.astype(dtype)
        if p in ("fro", 2, 2.0):
            s = (x * x).sum(dim, keepdim)
            zero = s._data == 0
            safe = _fn.where(zero, constant(np.ones((), s.dtype)), s)
            return _fn.where(zero, constant(np.zeros((), s.dtype)), safe.sqrt())
        if p == float("inf"):
            return x.abs().amax(dim, keepdim) if dim is not None else x.abs().amax()
        if p == float("-inf"):
            return x.abs().amin(dim, keepdim) if dim is not None else x.abs().amin()
        if p == 0:
            return recomputed(lambda a: (a != 0).sum(axis=dim, keepdims=keepdim).astype(a.dtype), x)
        if p == 1:
            return x.abs().sum(dim, keepdim)
        return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    # ----- elementwise functions PyTorch has as methods -----
    def tan(self) -> Tensor:
        if self._data.dtype.kind == "f" and self._data.ndim:
            return apply(ops.elementwise.Tan(), self)
        return self.sin() / self.cos()

    def _stepwise(self, fn) -> Tensor:
        """A piecewise-constant function: its gradient is 0 (not "none"), as PyTorch's."""
        if self._data.dtype.kind in "biu":
            return recomputed(fn, self)
        return apply(ops.Stepwise(fn.__name__ if hasattr(fn, "__name__") else "step", fn), self)

    def floor(self) -> Tensor:
        return self._stepwise(np.floor)

    def ceil(self) -> Tensor:
        return self._stepwise(np.ceil)

    def round(self, *, decimals: int = 0) -> Tensor:
        """Round half to even, as PyTorch (and NumPy)."""
        return self._stepwise(functools.partial(np.round, decimals=decimals))

    def trunc(self) -> Tensor:
        return self._stepwise(np.trunc)

    def sign(self) -> Tensor:
        return self._stepwise(np.sign)

    def lerp(self, end, weight) -> Tensor:
        """self + weight · (end − self)."""
        return self + weight * (end - self)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def view_as(self, other):
        return self.view(*other.shape)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A tensor from ``data`` with this one's dtype unless ``dtype`` is given."""
        _device.check(device)
        return _tensor(data, dtype=dtype or self._data.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_shape_args(size), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)  # fmt: skip

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_shape_args(size), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)  # fmt: skip

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in ``size``, with this tensor's dtype unless ``dtype`` is given."""
        _device.check(device)
        arr = np.full(tuple(size), fill_value, dtype=dtype or self._data.dtype)
        return _tensor(arr, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _several(fn: str, pieces: list) -> tuple:
    """The views one call returned together: as in PyTorch, an in-place write into one of them
    while recording gradients is refused (``inplace.check_recordable`` names ``fn``)."""
    for p in pieces:
        if getattr(p, "_vops", None) is not None and p._vmeta is None:
            p._vmeta = fn
    return tuple(pieces)


def _check_index(op: str, x: Tensor, idx: np.ndarray, dim: int) -> None:
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
    first = int(idx.reshape(-1)[np.argmax(bad.reshape(-1))])
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
