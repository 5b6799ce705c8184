"""In-place writes (``t.add_(x)``, ``t += x``, ``t[i] = v``) that autograd understands.

A write is done on ``t``'s own array, so every view of that storage sees it, as in PyTorch. When
the write needs a gradient, the op is recorded out of place on a snapshot of ``t``'s previous
history (``views.snapshot``), and ``t`` becomes the op's result: gradients flow to the written
value and, through the op, to the untouched rest of ``t``. A write through a view records the
base's new history instead (PyTorch's CopySlices, ``views.CopySlices``).

Each write also stamps ``t`` (and the tensor it is a view of) with a new count of in-place writes
(``grad_mode.state.epoch``). A graph node recorded before that stamp that *saved* the written
value for its backward (``Op.saved``) would backpropagate through a value that is no longer the
one it used: the backward walk refuses it (``check_versions``) instead of returning a wrong
gradient. Nodes that saved nothing of it (an add, a view) go on as in PyTorch.
"""

from __future__ import annotations

from chainrule import ops
from chainrule.autograd import views
from chainrule.autograd.grad_mode import state
from chainrule.autograd.make import _op_error, apply, escape
from chainrule.backend import xp
from chainrule.errors import user_line


def modify(t, name: str, op, *others):
    """Replaces ``t``'s value by ``op(t, *others)`` in place and returns ``t``.

    Args:
        t: the Tensor written into.
        name: the in-place method the user called (``"add_"``), for messages.
        op: a primitive op whose first input is ``t``.
        others: the op's further inputs, as Tensors.
    """
    escape(f"in-place {name}")
    grad = state.grad_enabled and (
        t.requires_grad
        or any(o.requires_grad for o in others)
        or (getattr(t, "_vops", None) is not None and t._base.requires_grad)
    )
    if grad:
        check_recordable(t, name)
    elif state.forward_level and (
        t._tangent is not None or any(o._tangent is not None for o in others)
    ):
        grad = True  # under cr.jvp: the recorded path, which carries the tangents
    _check_writable(t, name)
    if not grad:
        _stamp(t)
        try:
            out = op.forward(t._data, *[o._data for o in others])
        except (ValueError, IndexError, TypeError) as exc:
            raise _op_error(op, (t, *others), exc) from None
        _write(t, out, name)
        return t
    if getattr(t, "_vops", None) is not None:
        return _through_view(t, name, op, others)
    stamp = _stamp(t)
    # The previous history, for the recorded op and (through ``views.resolve``) for the nodes
    # recorded before. Its values are copied, as a recorded clone, only when the op's VJP reads
    # them: the copy then goes with the graph, while t keeps the (storage-sharing) snapshot.
    old = views.snapshot(t, stamp)
    if _reads_self(op, t, others):
        old = apply(ops.Clone(), old)
    out = apply(op, old, *others)
    _write(t, out._data, name)
    woke = out.requires_grad and not t.requires_grad
    t._node = out._node
    t._requires_grad = out._requires_grad
    t._tangent = out._tangent
    if woke:
        views.wake(t)
    return t


def _through_view(t, name: str, op, others):
    """``modify`` for a view ``t`` of ``base``: base' = CopySlices(base, op(view_fn(base), ...))
    and t = view_fn(base'), PyTorch's rebase of the base's history."""
    if getattr(t._base, "_reshaped", False):  # its base changed shape since: same memory
        views.fit_vops(t, t._base, name)
    base, vops = views.refresh(t)._base, t._vops
    stamp = _stamp(t)
    old_base = views.snapshot(base, stamp)
    views.snapshot(t, stamp)  # for the nodes that used t before
    region = views.replay(old_base, vops, base, stamp)
    if base._tangent is not None:  # forward mode (cr.jvp): the region's tangent too
        region._tangent = xp.array(views.region(base._tangent, vops))
    if _reads_self(op, t, others):  # its own copy, outside the storage about to change
        region._data, region._base = region._data.copy(), None
    out = apply(op, region, *others)
    _write(t, out._data, name)
    node = views.CopySlices(vops)
    if out.requires_grad:
        woke = not base.requires_grad
        node.inputs = (old_base, out)
        node._v = stamp
        base._node, base._requires_grad = node, True
        new = views.replay(base, vops, base, stamp)
        t._node, t._requires_grad = new._node, True
        if woke:
            views.wake(base)
    if base._tangent is not None or out._tangent is not None:
        tb = base._tangent if base._tangent is not None else xp.zeros_like(base._data)
        tv = out._tangent if out._tangent is not None else xp.zeros_like(out._data)
        base._tangent = node.forward(tb, tv)
    t._tangent = out._tangent
    return t


def rewrite(t, name: str, fn):
    """Replaces ``t``'s value by ``fn(t)`` in place (an activation written as a composition of
    ops, ``F.elu(x, inplace=True)``) and returns ``t``: recorded as a copy of the result into
    ``t``, so gradients flow through ``fn`` to t's previous history."""
    grad = state.grad_enabled and t.requires_grad
    if grad:
        check_recordable(t, name)
    _check_writable(t, name)
    return modify(t, name, ops.SetItem(Ellipsis), fn(t))


def check_recordable(t, name: str) -> None:
    """Raises PyTorch's errors for an in-place write on ``t`` that autograd cannot record: on a
    leaf that requires grad, on a view of one, on a view made under ``no_grad``, and on one of
    several views returned together (``split``, ``chunk``, ``unbind``)."""
    if t.requires_grad and t._node is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tuple(t.shape)}) cannot be "
            "changed by an in-place operation while gradients are recorded; do it under `with cr.no_grad():` "
            f"(a parameter update), or on a copy (t = t.clone())\n  at {user_line()}"
        )
    if getattr(t, "_vops", None) is None:
        return
    base, meta = t._base, t._vmeta
    if base.requires_grad and base._node is None:
        raise RuntimeError(
            f"{name}: a view of a leaf tensor that requires grad (shape {tuple(base.shape)}) is "
            "being used in an in-place operation; do it under `with cr.no_grad():`, or on a copy "
            f"(t = t.clone())\n  at {user_line()}"
        )
    if meta == "no_grad":
        raise RuntimeError(
            f"{name}: a view was created in no_grad mode and is being modified in place with "
            "grad mode enabled; this use case is ambiguous, so it is forbidden (as in PyTorch). "
            "Make the view and the in-place write both inside the no_grad block or both outside"
            f"\n  at {user_line()}"
        )
    if meta is not None:  # the name of the function that returned several views
        raise RuntimeError(
            f"{name}: this tensor is one of several views returned by {meta}() and is being "
            "modified in place; such views cannot be written in place while gradients are "
            "recorded (as in PyTorch). Replace the in-place operation by an out-of-place one"
            f"\n  at {user_line()}"
        )


def _reads_self(op, t, others) -> bool:
    """Whether the VJP of ``op`` (first input ``t``) reads its first input's values."""
    needs = (t.requires_grad, *(o.requires_grad for o in others))
    return 0 in op.saved(needs)


def write_no_grad(t, name: str, fn) -> None:
    """Runs ``fn(t._data)``, an in-place change that records nothing (``zero_``, ``normal_``)."""
    escape(f"in-place {name}")
    if state.grad_enabled and t.requires_grad and t._node is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tuple(t.shape)}) cannot be "
            "changed by an in-place operation while gradients are recorded; do it under `with cr.no_grad():`"
            f"\n  at {user_line()}"
        )
    if state.grad_enabled and t._node is not None:
        # Filling a non-leaf cuts the gradient to what made it; recorded as t * 0 + fill.
        raise RuntimeError(
            f"{name}: filling a tensor that is part of a graph is not supported; make a new "
            f"tensor (cr.zeros_like, cr.full_like) or detach it first\n  at {user_line()}"
        )
    _check_writable(t, name)
    _stamp(t)
    fn(t._data)


def check_versions(node, out) -> None:
    """Raises if a value that ``node`` saved for its backward (``node.saved``: some of its
    inputs, or its result ``out``) was written in place after the node was recorded."""
    inputs = node.inputs
    for pos in node.saved(tuple(i.requires_grad for i in inputs)):
        tensor = out if pos == "y" else inputs[pos]
        if storage_stamp(tensor) > node._v:
            which = "its result" if pos == "y" else f"its input {pos}"
            raise RuntimeError(
                f"backward: a value needed for gradient computation was modified by an in-place "
                f"operation: {which} of the {node.name} op (a tensor of shape "
                f"{tuple(tensor.shape)}) is at version {version(tensor)}, written after the "
                f"{node.name} saved it. Change it out of place (x = x + 1 rather than x += 1, "
                f"or .clone() it first)\n  (backward called at {user_line()})"
            )


def storage_stamp(t) -> int:
    """The epoch of the latest in-place write into ``t``'s storage (through it or a view)."""
    stamp = getattr(t, "_vstamp", 0)
    base = getattr(t, "_base", None)
    while base is not None:  # a view, a view of a detach()ed tensor: at most two steps
        stamp = max(stamp, getattr(base, "_vstamp", 0))
        base = getattr(base, "_base", None)
    return stamp


def version(t) -> int:
    """How many in-place writes ``t``'s storage has had (through t, its base, or their views)."""
    base = getattr(t, "_base", None)
    while base is not None:
        t, base = base, getattr(base, "_base", None)
    return getattr(t, "_vcount", 0)


def _stamp(t) -> int:
    """Counts a write into ``t``'s storage, on t and the tensors it shares the storage of."""
    state.epoch += 1
    x = t
    while x is not None:
        x._vstamp = state.epoch
        x._vcount = getattr(x, "_vcount", 0) + 1
        x = getattr(x, "_base", None)
    return state.epoch


def _check_writable(t, name: str) -> None:
    arr = t._data
    if not isinstance(arr, xp.ndarray):
        raise RuntimeError(
            f"{name}: this tensor holds a NumPy scalar, not an array sharing storage with the "
            f"tensor it was taken from, so it cannot be written in place\n  at {user_line()}"
        )
    if arr.flags.writeable:
        return
    if not any(s == 0 and n > 1 for s, n in zip(arr.strides, arr.shape)) and (
        getattr(t, "_vops", None) is not None
    ):
        arr.flags.writeable = True  # a part of an expand() in which no element repeats
        return
    raise RuntimeError(
        f"{name}: unsupported operation: more than one element of the written-to tensor "
        f"(shape {tuple(t.shape)}, an expand() or broadcast view) refers to a single memory "
        f"location. Please clone() the tensor before performing the operation\n  at {user_line()}"
    )


def _write(t, value, name: str) -> None:
    try:
        xp.copyto(t._data, value, casting="same_kind")
    except TypeError:
        raise TypeError(
            f"{name}: the result has dtype {xp.result_type(value)}, which cannot be written in "
            f"place into a tensor of dtype {t.dtype}\n  at {user_line()}"
        ) from None
    except ValueError as exc:
        raise RuntimeError(
            f"{name}: the result of shape {xp.shape(value)} cannot be written in place into a "
            f"tensor of shape {tuple(t.shape)} ({exc})\n  at {user_line()}"
        ) from None


def check_saved(ctx) -> None:
    """Raises if a tensor given to ``ctx.save_for_backward`` was written in place since."""
    stamps = getattr(ctx, "_stamps", None)
    if stamps is None:
        return
    for i, (tensor, stamp) in enumerate(zip(ctx._saved, stamps)):
        if storage_stamp(tensor) > stamp:
            raise RuntimeError(
                f"backward: a value needed for the gradient was modified by an in-place "
                f"operation: saved tensor {i} (shape {tuple(tensor.shape)}) is at version "
                f"{version(tensor)}, written after save_for_backward\n  at {user_line()}"
            )
