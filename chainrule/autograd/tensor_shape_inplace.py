"""PyTorch's in-place shape methods: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``,
``swapaxes_``/``swapdims_``, ``resize_`` and ``resize_as_``.

They change a tensor's shape, not its values: the tensor takes a view of its own array in the new
shape. Where the tensor is part of a graph, the change is recorded as the out-of-place op (a
reshape or a transpose) applied to the tensor's previous self, and the tensor becomes its result,
so gradients flow as PyTorch's ``UnsqueezeBackward``/``TBackward`` make them. Each change counts as
an in-place write (PyTorch bumps the version too), so a backward that saved the old shape refuses.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd import tensor_shape as _shape
from chainrule.autograd.grad_mode import state
from chainrule.autograd.inplace import _stamp
from chainrule.autograd.tensor import Tensor, _escape, constant
from chainrule.autograd.tensor_math_methods import _axis, _shape_args
from chainrule.errors import user_line


def _reshape_in_place(t: Tensor, name: str, make) -> Tensor:
    """Makes ``t`` the result of ``make(previous t)``, an out-of-place view op; returns ``t``."""
    _escape(f"in-place {name}")
    record = state.grad_enabled and t._requires_grad
    if record and t._node is None:
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation. "
            f"({name} on a leaf of shape {tuple(t.shape)}: do it under `with cr.no_grad():`, or "
            f"use the out-of-place {name[:-1]}())\n  at {user_line()}"
        )
    # t's previous self: the same array, holding t's place in the graph.
    old = constant(t._data)
    old._node = t._node
    old._requires_grad = t._requires_grad
    old._tangent = t._tangent
    old.name = t.name
    old._vstamp = getattr(t, "_vstamp", 0)
    _stamp(t)  # before the op is recorded, so that its node counts as recorded after the write
    out = make(old)
    t._data = out._data
    t._tangent = out._tangent
    if record:
        t._node = out._node
    return t


class InplaceShapeMethods:
    """The ``_``-suffixed shape methods of Tensor (installed by ``chainrule.autograd``)."""

    def unsqueeze_(self, dim: int) -> Tensor:
        """A size-1 dimension inserted at ``dim``, in place (``torch.Tensor.unsqueeze_``)."""
        return _reshape_in_place(self, "unsqueeze_", lambda x: _shape.unsqueeze(x, dim))

    def squeeze_(self, dim=None) -> Tensor:
        """The size-1 dimensions (only ``dim``, an int or a tuple, when given) removed, in place."""
        return _reshape_in_place(self, "squeeze_", lambda x: _shape.squeeze(x, _axis(None, dim)))

    def t_(self) -> Tensor:
        """A 2-D tensor transposed in place; 0-D and 1-D tensors are left as they are."""
        if self._data.ndim > 2:
            raise RuntimeError(
                f"t_() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D "
                f"(use transpose_(dim0, dim1))\n  at {user_line()}"
            )
        if self._data.ndim < 2:
            return self
        return _reshape_in_place(self, "t_", lambda x: _shape.swapaxes(x, 0, 1))

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        """Dimensions ``dim0`` and ``dim1`` swapped, in place."""
        return _reshape_in_place(self, "transpose_", lambda x: _shape.swapaxes(x, dim0, dim1))

    swapaxes_ = transpose_
    swapdims_ = transpose_

    def resize_(self, *sizes, memory_format=None) -> Tensor:
        """This tensor given the shape ``sizes``, in place, over its elements in C order: a
        smaller size keeps the first elements (a view of them), a larger one keeps them all and
        adds zeros after (PyTorch leaves those uninitialised). As in PyTorch, a tensor that
        requires grad cannot be resized.

        A tensor whose elements are not contiguous in memory is made contiguous first (a copy,
        so its views no longer share it), where PyTorch reinterprets its storage.
        """
        if self._requires_grad:
            raise RuntimeError(
                f"cannot resize variables that require grad (resize_ on a tensor of shape "
                f"{tuple(self.shape)}; resize a .detach()ed copy)\n  at {user_line()}"
            )
        shape = tuple(int(n) for n in _shape_args(sizes))
        if any(n < 0 for n in shape):
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
                f"\n  at {user_line()}"
            )
        _escape("in-place resize_")
        arr = self._data
        if shape == arr.shape:
            return self
        flat = arr.reshape(-1) if arr.flags.c_contiguous else np.ascontiguousarray(arr).ravel()
        n = int(np.prod(shape, dtype=np.int64))
        if n <= flat.size:
            new = flat[:n].reshape(shape)
        else:
            new = np.zeros(n, dtype=arr.dtype)
            new[: flat.size] = flat
            new = new.reshape(shape)
        _stamp(self)
        self._data = new
        return self

    def resize_as_(self, other: Tensor, memory_format=None) -> Tensor:
        """``resize_`` to ``other``'s shape."""
        return self.resize_(*other.shape)
