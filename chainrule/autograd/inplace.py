"""In-place writes (``t.add_(x)``, ``t += x``, ``t[i] = v``) that autograd understands.

A write is done on ``t``'s own array, so every view of that storage sees it, as in PyTorch. When
the write needs a gradient, the op is recorded out of place on a copy of ``t``'s previous value,
and ``t`` becomes the op's result: gradients flow to the written value and, through the op, to
the untouched rest of ``t``.

Each write also stamps ``t`` (and the tensor it is a view of) with a new count of in-place writes
(``grad_mode.state.epoch``). A graph node recorded before that stamp whose input or output was
written since then would backpropagate through a value that is no longer the one it used: the
backward walk refuses it (``check_versions``) instead of returning a wrong gradient.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.grad_mode import state
from chainrule.autograd.tensor import _escape, _op_error, apply, constant
from chainrule.errors import user_line


def modify(t, name: str, op, *others):
    """Replaces ``t``'s value by ``op(t, *others)`` in place and returns ``t``.

    Args:
        t: the Tensor written into.
        name: the in-place method the user called (``"add_"``), for messages.
        op: a primitive op whose first input is ``t``.
        others: the op's further inputs, as Tensors.
    """
    _escape(f"in-place {name}")
    grad = state.grad_enabled and (t.requires_grad or any(o.requires_grad for o in others))
    if grad and t.requires_grad and t._node is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (shape {tuple(t.shape)}) cannot be "
            "changed by an in-place operation while gradients are recorded; do it under `with cr.no_grad():` "
            f"(a parameter update), or on a copy (t = t.clone())\n  at {user_line()}"
        )
    if grad and getattr(t, "_base", None) is not None:
        raise RuntimeError(
            f"{name}: writing in place into a view (shape {tuple(t.shape)}) of another tensor "
            "while recording gradients is not supported yet; write into the base tensor "
            f"(base[index] = value) or work on a copy (.clone())\n  at {user_line()}"
        )
    _check_writable(t, name)
    prev_stamp = getattr(t, "_vstamp", 0)
    _stamp(t)
    if not grad:
        try:
            out = op.forward(t._data, *[o._data for o in others])
        except (ValueError, IndexError, TypeError) as exc:
            raise _op_error(op, (t, *others), exc) from None
        _write(t, out, name)
        return t
    # The previous value, kept for the recorded op's VJP (and the VJP of the op that made it);
    # t's array itself is about to be overwritten.
    keep = t._node is not None or getattr(op, "reads_self", True)
    old = constant(t._data.copy() if keep else t._data)
    old._node = t._node
    old._tangent = t._tangent
    old.name = t.name
    old._requires_grad = t._requires_grad
    old._vstamp = prev_stamp
    out = apply(op, old, *others)
    _write(t, out._data, name)
    t._node = out._node
    t._requires_grad = out._requires_grad
    t._tangent = out._tangent
    return t


def write_no_grad(t, name: str, fn) -> None:
    """Runs ``fn(t._data)``, an in-place change that records nothing (``zero_``, ``normal_``)."""
    _escape(f"in-place {name}")
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
    """Raises if an input or the output of ``node`` was written in place after it was recorded."""
    for i, tensor in enumerate((*node.inputs, out)):
        stamp = getattr(tensor, "_vstamp", 0)
        base = getattr(tensor, "_base", None)
        if base is not None:
            stamp = max(stamp, getattr(base, "_vstamp", 0))
        if stamp > node._v:
            which = "its result" if i == len(node.inputs) else f"its input {i}"
            raise RuntimeError(
                f"backward: a value needed for the gradient was modified by an in-place "
                f"operation: {which} of the {node.name} op (a tensor of shape "
                f"{tuple(tensor.shape)}) is at version {version(tensor)}, written after the "
                f"{node.name} used it. Change it out of place (x = x + 1 rather than x += 1, "
                f"or .clone() it first)\n  (backward called at {user_line()})"
            )


def version(t) -> int:
    """How many in-place writes ``t`` (or the tensor it is a view of) has had."""
    base = getattr(t, "_base", None)
    return getattr(base if base is not None else t, "_vcount", 0)


def _stamp(t) -> None:
    state.epoch += 1
    for x in (t, getattr(t, "_base", None)):
        if x is not None:
            x._vstamp = state.epoch
            x._vcount = getattr(x, "_vcount", 0) + 1


def _check_writable(t, name: str) -> None:
    if not t._data.flags.writeable:
        raise RuntimeError(
            f"{name}: this tensor (shape {tuple(t.shape)}) shares one element between several "
            "positions (an expand() or broadcast view) and cannot be written in place; "
            f".clone() it first\n  at {user_line()}"
        )


def _write(t, value, name: str) -> None:
    try:
        np.copyto(t._data, value, casting="same_kind")
    except TypeError:
        raise TypeError(
            f"{name}: the result has dtype {np.result_type(value)}, which cannot be written in "
            f"place into a tensor of dtype {t.dtype}\n  at {user_line()}"
        ) from None
    except ValueError as exc:
        raise RuntimeError(
            f"{name}: the result of shape {np.shape(value)} cannot be written in place into a "
            f"tensor of shape {tuple(t.shape)} ({exc})\n  at {user_line()}"
        ) from None


def check_saved(ctx) -> None:
    """Raises if a tensor given to ``ctx.save_for_backward`` was written in place since."""
    stamps = getattr(ctx, "_stamps", None)
    if stamps is None:
        return
    for i, (tensor, stamp) in enumerate(zip(ctx._saved, stamps)):
        if getattr(tensor, "_vstamp", 0) > stamp:
            raise RuntimeError(
                f"backward: a value needed for the gradient was modified by an in-place "
                f"operation: saved tensor {i} (shape {tuple(tensor.shape)}) is at version "
                f"{version(tensor)}, written after save_for_backward\n  at {user_line()}"
            )
