"""PyTorch's in-place shape methods: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``,
``swapaxes_``/``swapdims_``, ``resize_`` and ``resize_as_``.

They change a tensor's shape, not its values: the tensor takes a view of its own array in the new
shape. Where the tensor is part of a graph, the change is recorded as the out-of-place op (a
reshape or a transpose) applied to the tensor's previous self, and the tensor becomes its result,
so gradients flow as PyTorch's ``UnsqueezeBackward``/``TBackward`` make them. Each change counts as
an in-place write (PyTorch bumps the version too), so a backward that saved the old shape refuses.

Nodes recorded before the change go on with the shape they used (the previous history is kept as
a snapshot, ``views.snapshot``). A view's change joins its view ops, so that a later write
through it is replayed on its base in the new shape; a base's change leaves its existing views
on the same elements, as in PyTorch, where a view is a piece of storage (``views.fit_vops``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd import shape as _shape
from chainrule.autograd import views
from chainrule.autograd.grad_mode import state
from chainrule.autograd.inplace import _stamp
from chainrule.autograd.make import apply, constant, escape
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.autograd.reductions import _axis
from chainrule.autograd.shape import shape_args
from chainrule.errors import user_line


def _reshape_in_place(t: Tensor, name: str, make) -> Tensor:
    """Makes ``t`` the result of ``make(previous t)``, an out-of-place view op; returns ``t``."""
    escape(f"in-place {name}")
    if getattr(t, "_vops", None) is not None:
        views.refresh(t)  # a view whose base was written since: its history from the base now
    record = state.grad_enabled and t._requires_grad
    if record and t._node is None:
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation. "
            f"({name} on a leaf of shape {tuple(t.shape)}: do it under `with cr.no_grad():`, or "
            f"use the out-of-place {name[:-1]}())\n  at {user_line()}"
        )
    stamp = _stamp(t)  # before the op is recorded: its node counts as recorded after the write
    if record:
        # t's previous history, for the op and for the nodes recorded before (they go on
        # with the shape they used, ``views.resolve``); a node that saved t's values refuses.
        old = views.snapshot(t, stamp)
    else:
        old = constant(t._data)
        old._tangent = t._tangent
    out = make(old)
    noop = out is old
    if noop:  # recorded all the same, as PyTorch does (and t must not share old's node)
        out = apply(ops.Reshape(tuple(old.shape)), old)
    t._data = out._data
    t._tangent = out._tangent
    if record:
        t._node = out._node
    if not noop:
        # The view op made (a reshape of an empty array is a copy, so not marked as a view).
        vops = getattr(out, "_vops", None)
        _moved(t, vops[-1] if vops else ops.Reshape(tuple(out.shape)))
    return t


def _moved(t: Tensor, op) -> None:
    """Keeps the view bookkeeping right after ``t`` took a new shape in place (``op``, a view
    op from its previous shape, None for a ``resize_``)."""
    # Its views keep the memory they had (``views.fit_vops``, done when next used), and the
    # backward names the change if a node recorded before trips on the new shape.
    t._reshaped = True
    if getattr(t, "_vops", None) is not None:
        # A view: writes through it later replay the ops from its base, this one included.
        if op is not None:
            t._vops = (*t._vops, op)
        else:
            views.fit_vops(t, t._base)


class InplaceShapeMethods:
    """A base of ``Tensor``: its in-place shape methods (``x.t_()``, ``x.resize_(...)``)."""

    __slots__ = ()  # Tensor's instances keep its __slots__ only (no __dict__)

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
        if self._data.ndim < 2:  # unchanged, but a write all the same, as in PyTorch
            return _reshape_in_place(self, "t_", lambda x: x)
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
        shape = tuple(int(n) for n in shape_args(sizes))
        if any(n < 0 for n in shape):
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
                f"\n  at {user_line()}"
            )
        escape("in-place resize_")
        arr = self._data
        if shape == arr.shape:
            return self
        flat = arr.reshape(-1) if arr.flags.c_contiguous else xp.ascontiguousarray(arr).ravel()
        n = int(xp.prod(shape, dtype=xp.int64))
        if n <= flat.size:
            new = flat[:n].reshape(shape)
        else:
            new = xp.zeros(n, dtype=arr.dtype)
            new[: flat.size] = flat
            new = new.reshape(shape)
        _stamp(self)
        self._data = new
        if xp.may_share_memory(new, arr) or getattr(self, "_vops", None) is None:
            _moved(self, None)
        else:  # grown into a new array: no longer a view of its base's storage
            self._base = self._vops = self._vmeta = None
            self._reshaped = True
        return self

    def resize_as_(self, other: Tensor, memory_format=None) -> Tensor:
        """``resize_`` to ``other``'s shape."""
        return self.resize_(*other.shape)
