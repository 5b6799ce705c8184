"""Tensor's shape methods (``x.view(2, 3)``, ``x.permute(1, 0)``, ``x.expand(...)``, ``x.t()``,
``x.flip(0)``): those that are PyTorch's functions of the same name (``squeeze``, ``flatten``)
are the functions themselves; the others take their sizes spread (``x.view(2, 3)`` as well as
``x.view((2, 3))``) or exist only as methods, and are written here on the functions of
``shape`` and ``indexing``. The in-place ones (``x.t_()``) are in tensor_shape_inplace.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule.autograd import indexing
from chainrule.autograd import shape as _shape
from chainrule.autograd.shape import shape_args
from chainrule.errors import ShapeError

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


class ShapeMethods:
    """A base of ``Tensor``: its shape methods (see the module's docstring)."""

    __slots__ = ()  # Tensor's instances keep its __slots__ only (no __dict__)

    squeeze = _shape.squeeze
    unsqueeze = _shape.unsqueeze
    flatten = _shape.flatten
    swapaxes = _shape.swapaxes
    transpose = _shape.transpose
    permute = _shape.permute

    def reshape(self, *shape) -> Tensor:
        """The same elements in a new shape (one size may be -1); a view when the storage allows."""
        return _shape.reshape(self, shape_args(shape))

    view = reshape

    def view_as(self, other) -> Tensor:
        return self.view(*other.shape)

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of matrices transposed; a view)."""
        if self._data.ndim < 2:
            raise ShapeError(f"mT: needs at least 2 dimensions, got shape {self.shape}")
        return _shape.swapaxes(self, -1, -2)

    def t(self) -> Tensor:
        """A 2-D tensor transposed (0-D and 1-D tensors are returned as they are), as PyTorch."""
        if self._data.ndim > 2:
            raise ShapeError(
                f"t: expects a tensor of at most 2 dimensions, got shape {self.shape}; "
                "use transpose(dim0, dim1) or permute(...)"
            )
        return self if self._data.ndim < 2 else _shape.swapaxes(self, 0, 1)

    def broadcast_to(self, *shape) -> Tensor:
        """This tensor broadcast to ``shape`` (a view; the gradient sums back)."""
        return _shape.broadcast_to(self, shape_args(shape))

    def expand(self, *sizes) -> Tensor:
        """This tensor broadcast to ``sizes`` (a view); -1 keeps a dimension's size, as PyTorch."""
        sizes = shape_args(sizes)
        lead = len(sizes) - self._data.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: the number of sizes {sizes} must be at least the tensor's number of "
                f"dimensions, shape {tuple(self.shape)}"
            )
        full = tuple(self._data.shape[i - lead] if s == -1 and i >= lead else s
                     for i, s in enumerate(sizes))  # fmt: skip
        return _shape.broadcast_to(self, full)

    def expand_as(self, other) -> Tensor:
        return self.expand(*other.shape)

    def repeat(self, *sizes) -> Tensor:
        """This tensor tiled ``sizes`` times along each dimension (``torch.repeat``, NumPy's
        ``tile``): shape (s0·d0, s1·d1, ...), with new leading dimensions if ``sizes`` is longer."""
        sizes = shape_args(sizes)
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

    def flip(self, *dims) -> Tensor:
        """The entries in reverse order along ``dims`` (``x.flip(0, 1)`` or ``x.flip((0, 1))``),
        copied: ``cr.flip``."""
        return indexing.flip(self, shape_args(dims))

    def contiguous(self) -> Tensor:
        """The tensor itself when its storage is C-ordered, else a copy in the graph that is."""
        return self if self._data.flags.c_contiguous else self.clone()
