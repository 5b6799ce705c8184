"""Views and in-place writes, as PyTorch records them: the rebase of a base's history when a view
of it is written (PyTorch's CopySlices), and the history of a tensor as it was when a graph node
used it.

A view (``y[0]``, ``y.T``, ``y.view(-1)``, ``y.narrow(...)``) shares its base's storage and keeps
the chain of view ops that takes it from the base (``_vops``). Writing ``v.mul_(2)`` while
recording changes the base's history into

    base' = CopySlices(base, region') with region' = mul(view_fn(base), 2)

that is, the old base with the viewed region replaced by the op's result, and the view's own
history into ``view_fn(base')``. Every other view of the same base is rebased lazily: its history
from then on is ``view_fn`` of the base's new history (``as_of``, ``refresh``), while graph nodes
recorded before the write keep seeing the history they used.

In-place writes keep the previous history of the tensor written as a snapshot (``_prev``: the
epoch of the write and a Tensor holding the old node). A graph node refers to its inputs as
Tensor objects, so the backward walk asks for each input of a node recorded before the latest
write "this tensor as of the node's epoch" (``resolve``) and follows that history instead.
"""

from __future__ import annotations

import copy
import weakref
from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd.grad_mode import state
from chainrule.autograd.make import apply, constant
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.backend import ArrayMath
from chainrule.errors import user_line
from chainrule.ops.base import Op


def mark_view(out: Tensor, of: Tensor, op) -> Tensor:
    """Marks ``out`` = ``op(of)`` as a view of ``of``'s storage, keeping the view ops from the
    base: an in-place write through it is recorded on the base, and it is rebased when the
    base changes (``chainrule.autograd.views``)."""
    vops = getattr(of, "_vops", None)
    if vops is None:
        out._base, out._vops, out._vmeta = of, (op,), None
    else:
        out._base, out._vops, out._vmeta = of._base, (*vops, op), of._vmeta
    if not state.grad_enabled:
        out._vmeta = out._vmeta or "no_grad"  # PyTorch refuses a recorded write through it
    elif not out._base.requires_grad:
        # Remembered (weakly, the dead dropped as the list doubles) so that a recorded write
        # that gives the base a gradient gives this view one at once (``views.wake``).
        seen = getattr(out._base, "_views", None)
        if seen is None:
            seen = out._base._views = _ViewRefs()
        elif len(seen) >= 64 and not len(seen) & (len(seen) - 1):
            seen[:] = [r for r in seen if r() is not None]
        seen.append(weakref.ref(out))
    return out


def view_op(op, x: Tensor) -> Tensor:
    """``op`` (a view op: Transpose, BroadcastTo, basic GetItem, Reshape) applied to x, as a
    view of x's storage."""
    return mark_view(apply(op, x), x, op)


class _ViewRefs(list):
    """A base's weak references to its views (``mark_view``): bookkeeping that pickle and
    ``copy`` leave behind (a weak reference cannot be pickled)."""

    __slots__ = ()

    def __reduce__(self):
        return (_ViewRefs, ())

    def __copy__(self):
        return _ViewRefs()

    def __deepcopy__(self, memo):
        return _ViewRefs()


class CopySlices(Op):
    """``base`` with the region that the view ops ``vops`` select replaced by ``value``:
    the history a base gets when one of its views is written in place.

    Inputs base (any shape) and value (the region's shape). VJP: the base gets g with the region
    zeroed (it was overwritten), the value gets the region of g.
    """

    name = "copy_slices"
    saves = ()  # only the geometry (the view ops) is needed

    def __init__(self, vops: tuple):
        self.vops = vops

    def forward(self, base, value):
        out = base.copy()
        _write_region(out, self.vops, value)
        return out

    def vjp(self, m, g, base, value, y):
        if m is ArrayMath:
            gb = xp.array(g, copy=True)
            _write_region(gb, self.vops, 0)
            return gb, xp.array(region(g, self.vops))
        gv = g
        for op in self.vops:  # recorded, so that the gradient is itself differentiable
            gv = m.apply(copy.copy(op), gv)
        return m.apply(CopySlices(self.vops), g, m.zeros(gv.shape, like=g)), gv

    def jvp(self, tb, tv, b, v, y):
        return self.forward(tb, tv)


def region(a, vops: tuple):
    """The view of array ``a`` that the view ops ``vops`` select (read-only use)."""
    for op in vops:
        a = op.forward(a)
    return a


def _write_region(a: xp.ndarray, vops: tuple, value) -> None:
    """Writes ``value`` into the region of ``a`` selected by ``vops``, in place."""
    r = region(a, vops)
    if isinstance(r, xp.ndarray) and r.size and xp.may_share_memory(r, a):
        if not r.flags.writeable:  # a non-overlapping part of an expand() (checked before)
            r.flags.writeable = True
        r[...] = value
        return
    # A reshape that NumPy had to copy on this layout (or a 0-d element): go through the flat
    # positions of the region instead, which are the same whatever the memory layout.
    # Written by multi-dimensional index: ``a.reshape(-1)`` is itself a copy unless a is C-ordered
    # (a gradient that came through a transpose is not).
    where = xp.asarray(region(xp.arange(a.size).reshape(a.shape), vops))
    a[xp.unravel_index(where.reshape(-1), a.shape)] = xp.broadcast_to(value, where.shape).reshape(
        -1
    )


def replay(x: Tensor, vops: tuple, root: Tensor, epoch: int) -> Tensor:
    """The view ``vops`` of ``x`` (which holds ``root``'s storage), recorded as graph nodes of
    epoch ``epoch`` when x requires grad, whatever the grad mode (the backward walk calls this)."""
    for op in vops:
        op = copy.copy(op)
        out = constant(op.forward(x._data))
        if x.requires_grad:
            op.inputs = (x,)
            op._v = epoch
            out._node = op
            out._requires_grad = True
        out._base = root  # for the version counter only: an internal tensor is never rebased
        x = out
    return x


def snapshot(t: Tensor, stamp: int) -> Tensor:
    """A Tensor holding ``t``'s history as it is now, before the in-place write of epoch
    ``stamp`` gives ``t`` a new one; ``t._prev`` points to it. It shares t's storage: a node
    that saved the values it held fails the version check (its ``_vstamp`` is ``stamp``)."""
    old = constant(t._data)
    old._node = t._node
    old._tangent = t._tangent
    old.name = t.name
    old._requires_grad = t._requires_grad
    old._vstamp = stamp  # its values were changed by that write: a node that saved them fails
    old._prev = getattr(t, "_prev", None)
    base = getattr(t, "_base", None)
    if base is not None:
        old._base = base
    t._prev = (stamp, old)
    return old


def as_of(t: Tensor, epoch: int) -> Tensor:
    """``t`` with the history it had at ``epoch``: the snapshot taken before the first recorded
    in-place write after ``epoch``. A view is first rebased (``refresh``); a view's snapshot
    that spans several writes of its base gives the view of the base as of ``epoch``."""
    if getattr(t, "_vops", None) is not None:
        refresh(t)
    prev = getattr(t, "_prev", None)
    while prev is not None and prev[0] > epoch:
        t = prev[1]
        prev = getattr(t, "_prev", None)
    if getattr(t, "_vmeta", "") == _FROZEN and t._node is not None:
        base = t._base
        if _writes_after(base, t._node._v, epoch):
            past, vops = as_of(base, epoch), t._vops
            if getattr(base, "_reshaped", False):  # the base's shape then, not now
                vops = fitted(vops, past._data, t._data)
            return replay(past, vops, base, epoch)
    return t


def refresh(t: Tensor) -> Tensor:
    """Rebases the view ``t`` when its base had recorded in-place writes since t's history was
    made (PyTorch regenerates a view's grad_fn the same way): t's history becomes the view of
    the base's current history. The history before stays reachable for the nodes recorded
    before the first of those writes, and the view of the base as of any epoch in between is
    made when a node of that epoch asks for it (``as_of``)."""
    if t._vmeta == _FROZEN:  # a past history: stays as it was
        return t
    base = t._base
    if getattr(base, "_reshaped", False):
        fit_vops(t, base)
    node = t._node
    if node is None:
        if not base.requires_grad or t._vmeta is not None:
            return t
        prev = getattr(t, "_prev", None)
        born = prev[0] if prev is not None else -1
    else:
        born = node._v
    writes = _writes_after(base, born)
    if not writes:
        return t
    stamp = getattr(t, "_vstamp", 0)
    for s in sorted({writes[0], writes[-1]}):  # before the first write; between first and last
        old = snapshot(t, s)
        old._vstamp, old._vops, old._vmeta = stamp, t._vops, _FROZEN
    new = replay(base, t._vops, base, state.epoch)
    t._node, t._requires_grad = new._node, new._requires_grad
    return t


def wake(base: Tensor) -> None:
    """Rebases the views that ``base`` remembers (taken while it needed no gradient), now that a
    recorded in-place write gave it one: they require grad from now on, as in PyTorch."""
    refs = getattr(base, "_views", None)
    if refs:
        base._views = _ViewRefs()
        for r in refs:
            v = r()
            if v is not None and v._base is base:  # not one a resize_ took off its storage
                refresh(v)


def resolve(node) -> tuple:
    """The inputs of ``node`` as they were when it was recorded (``as_of`` its epoch); they
    replace ``node.inputs``, so that the walk follows the history the node used."""
    e = node._v
    inputs = tuple(as_of(i, e) for i in node.inputs)
    node.inputs = inputs
    return inputs


def _writes_after(base: Tensor, after: int, upto: float = float("inf")) -> list[int]:
    """The epochs of ``base``'s recorded in-place writes in (after, upto], oldest first."""
    out = []
    prev = getattr(base, "_prev", None)
    while prev is not None and prev[0] > after:
        if prev[0] <= upto:
            out.append(prev[0])
        prev = getattr(prev[1], "_prev", None)
    return out[::-1]


def fit_vops(t: Tensor, base: Tensor, name: str = "autograd") -> None:
    """Makes ``t._vops`` select, in ``base``'s current array, the memory that ``t`` holds
    (``fitted``): needed once ``base`` has changed its shape in place since ``t`` was taken."""
    t._vops = fitted(t._vops, base._data, t._data, name)


def fitted(vops: tuple, b: xp.ndarray, v: xp.ndarray, name: str = "autograd") -> tuple:
    """View ops that select, in array ``b`` (a base's), the memory that array ``v`` (its view's)
    holds: ``vops`` where they still do, else a flat gather of v's elements found by address.

    A base that changed its shape in place (``transpose_``, ``unsqueeze_``, ``resize_``) after
    the view was taken leaves the view on the same elements in PyTorch, where a view is a piece
    of storage (an as_strided), not a recipe. The gather is what replay, the CopySlices write
    and its backward then read; it remembers the arrays it was made for, to be made once.
    """
    key = (_geometry(b), _geometry(v))
    if getattr(vops[-1], "fitted", None) == key:  # gathered already, for these arrays
        return vops
    try:
        if _same_memory(region(b, vops), v):
            return vops
    except (IndexError, ValueError):  # the ops no longer fit the base's new shape
        pass
    gather = ops.GetItem((_positions(b, v, name),))
    gather.fitted = key
    return (ops.Reshape((-1,)), gather)


def _geometry(a) -> tuple:
    """Where array ``a``'s elements lie: its data address, shape and strides."""
    return a.__array_interface__["data"][0], a.shape, a.strides


def _same_memory(r, a) -> bool:
    """Whether arrays ``r`` and ``a`` are the same window on the same memory."""
    return isinstance(r, xp.ndarray) and _geometry(r) == _geometry(a)


def _addresses(a: xp.ndarray) -> xp.ndarray:
    """The memory address of each element of ``a`` (an int64 array of a's shape)."""
    out = xp.full(a.shape, a.__array_interface__["data"][0], dtype=xp.int64)
    for axis, (n, step) in enumerate(zip(a.shape, a.strides)):
        out += (xp.arange(n, dtype=xp.int64) * step).reshape((n,) + (1,) * (a.ndim - axis - 1))
    return out


def _positions(b: xp.ndarray, v: xp.ndarray, name: str) -> xp.ndarray:
    """For each element of ``v``, its C-order position among the elements of ``b`` (same
    memory); raises where the memory of v is no longer part of b's (a base resized away)."""
    flat = _addresses(b).reshape(-1)
    order = xp.argsort(flat, kind="stable")
    at = flat[order]
    want = _addresses(v)
    pos = xp.minimum(xp.searchsorted(at, want), max(at.size - 1, 0))
    gone = (want.size > 0 and at.size == 0) or (at[pos] != want).any()
    if gone or v.dtype.itemsize != b.dtype.itemsize:
        raise RuntimeError(
            f"{name}: unsupported: a view of shape {v.shape} whose base was resized in place "
            f"(resize_, now of shape {b.shape}) since the view was taken, so that the base no "
            "longer holds the view's elements (PyTorch's view follows its base's reallocated "
            "storage; a NumPy array cannot grow in place). Take the view again after the "
            f"resize_\n  at {user_line()}"
        )
    return order[pos]


_FROZEN = "snapshot"  # the _vmeta of a view's past history: never rebased itself
