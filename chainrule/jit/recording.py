"""The recorder of ``cr.compile``: what one eager run of a step did, as a list of entries over
numbered array slots, and the comparison of two such recordings.

Eager code reports to it through ``grad_mode.recording()``: ``apply`` for each op, the hooks of
``chainrule.autograd.compile_hooks`` (``recomputed``, ``redrawn``, ``side_effect``,
``@replayed_whole``), and ``engine._walk``, the one backward loop, which it watches as an
observer (``vjp``, ``sent``, ``leaf``, ``freed`` below).
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from chainrule import backend
from chainrule.autograd import engine
from chainrule.autograd.grad_mode import state
from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import xp
from chainrule.errors import user_line
from chainrule.jit.refs import Constant, External, Input, ReturnsObject, ReturnsValue, Several, Slot
from chainrule.ops.base import Op

# An op whose forward keeps at least this many bytes for its backward has them released right after
# its VJP in a replay (as eager backward frees the graph), not held until the next step.
_BIG = 1 << 16


def _release(op, names) -> None:
    d = op.__dict__
    for n in names:
        d.pop(n, None)


_NONE = MappingProxyType({})  # an empty mapping that cannot be written to by mistake
_SHARED: dict = {}  # one copy of each small immutable value recordings keep many of


class _Entry:
    """One thing the step did, with its operands as references (``chainrule.jit.refs``)."""

    __slots__ = ("args", "binds", "fn", "key", "kind", "kwargs", "label", "op", "out")

    def __init__(self, kind, fn, args, out=None, key=None, label="", op=None, kwargs=None):
        self.kind = (
            kind  # op, vjp, recomputed, redrawn, side_effect, call, add, sum_to, leaf, input
        )
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or _NONE  # (shared: most entries have none, and a dict is 64 B)
        self.out = out  # None, a slot, or a list of slots (None where a result is unused)
        self.key = key
        self.label = label
        self.op = op
        self.binds = _NONE  # op attribute -> reference (a per-call array such as a mask)


class _Recording:
    """What one eager run of the step did, as a list of entries over numbered array slots."""

    keeps_arrays = False  # (as the engine's observer: it keeps ids and slots, not arrays)

    def __init__(self, inputs: list):
        self.busy = False
        self.entries: list[_Entry] = []
        # id(array) -> its latest slot, for the arrays alive now: an entry goes when its array
        # is freed (a weakref callback), so that a new array at a reused address is not
        # mistaken for it. Nothing is kept alive: recording costs no more memory than eager.
        self.slot_of: dict[int, int] = {}
        self.holders: dict[int, int] = {}  # id(array) -> how many slots hold that object
        self._watch: dict[int, weakref.ref] = {}
        self._pinned: list = []  # NumPy scalars (no weakrefs): kept, they are tiny
        self.n_slots = 0
        self.dtypes: set[str] = set()
        self.added: dict[int, tuple[Any, list[str]]] = {}  # op id -> (op, attributes forward set)
        self.externals: list[Tensor] = []
        self.ext_index: dict[int, int] = {}
        self.consts: list = []
        self._crefs: dict[int, Constant] = {}  # id(constant) -> its reference
        self._srefs: list[Slot] = []  # slot k -> its reference, made once
        self.reason: str | None = None
        self.guards: dict[int, tuple[Any, bool]] = {}
        self.inputs = inputs
        self.input_ids = {id(x): k for k, x in enumerate(inputs)}
        self.vjp_ops: dict[int, tuple[bool, ...]] = {}
        self.saved: dict[int, list[str]] = {}
        self.template = None
        for k, x in enumerate(inputs):
            arr = x._data if isinstance(x, Tensor) else x
            self.entries.append(_Entry("input", None, [Input(k)], self._new(arr)))

    # ----- references -----
    def _new(self, arr) -> int:
        k = self.n_slots
        self.n_slots += 1
        self._srefs.append(Slot(k))
        key = id(arr)
        self.slot_of[key] = k
        self.holders[key] = self.holders.get(key, 0) + 1
        dtype = getattr(arr, "dtype", None)
        if dtype is not None:
            self.dtypes.add(str(dtype))
        if key not in self._watch:
            try:
                self._watch[key] = weakref.ref(arr, functools.partial(_forget, self, key))
            except TypeError:
                self._pinned.append(arr)
        return k

    def _renamed(self, arr) -> int:
        """A new slot for an array that already has one and was changed in place (its old
        slot is read no more): still one holder, so that it may become a ``.grad`` uncopied."""
        k = self.n_slots
        self.n_slots += 1
        self._srefs.append(Slot(k))
        self.slot_of[id(arr)] = k
        return k

    def finish(self) -> None:
        """Lets go of everything the recording no longer needs: the address map, and what the
        recorded ops kept for their backward (a replay works on copies of the ops)."""
        self._watch.clear()
        self.slot_of.clear()
        self.holders.clear()
        self._pinned.clear()
        for op, names in self.added.values():
            if op.inputs is None or op.inputs is engine.FREED:
                _release(op, names)

    def drop(self) -> None:
        """Empties a recording that a replay has been made from (its lines name what they
        need), so that its memory is free before the replay's code is compiled."""
        for name in ("entries", "consts", "externals", "_srefs", "added", "saved", "vjp_ops",
                     "ext_index", "_crefs"):  # fmt: skip
            getattr(self, name).clear()

    def _ref_tensor(self, t: Tensor):
        k = self.slot_of.get(id(t._data))
        if k is not None:
            return self._srefs[k]
        k = self.ext_index.get(id(t))
        if k is None:
            k = self.ext_index[id(t)] = len(self.externals)
            self.externals.append(t)
        return External(k)

    def _ref(self, v):
        if isinstance(v, Tensor):
            return self._ref_tensor(v)
        if isinstance(v, (xp.ndarray, xp.generic)):  # a 0-d result may come back as a scalar
            k = self.slot_of.get(id(v))
            if k is not None:
                return self._srefs[k]
        return self._const(v)

    def _const(self, v):
        # One entry per object, however often it is used (the math namespace is an argument of
        # every VJP): the list keeps each alive, so its id stays its own.
        ref = self._crefs.get(id(v))
        if ref is None:
            self.consts.append(v)
            ref = self._crefs[id(v)] = Constant(len(self.consts) - 1)
        return ref

    # ----- what eager code reports -----
    def escape(self, what: str) -> None:
        if self.reason is None:
            self.reason = f"{what} at {user_line()}"

    def guard(self, module) -> None:
        self.guards.setdefault(id(module), (module, module.training))

    def apply(self, op: Op, inputs):
        if state.forward_level:
            self.escape("cr.jvp (forward mode) inside the step")
        if state.anomaly:
            self.escape("detect_anomaly inside the step")
        before = dict(vars(op))
        self.busy = True
        try:
            t = apply(op, *inputs)
        finally:
            self.busy = False
        entry = _Entry("op", None, [self._ref_tensor(i) for i in inputs], label=op.name, op=op)
        attrs = []
        for name, v in sorted(before.items()):
            ref = self._attr_ref(v)
            if ref is not None:
                if name not in type(op).per_call_arrays:
                    self.escape(
                        f"the {op.name} op keeps a value computed from the step's data in its "
                        f"attribute {name!r}, which a replay cannot update"
                    )
                if entry.binds is _NONE:
                    entry.binds = {}
                entry.binds[name] = ref
            else:
                attrs.append((name, v))
        entry.key = (type(op), attrs)
        entry.out = self._new(t._data)
        # What forward kept on the op for its backward; big arrays are let go after the VJP.
        # (Arrays written by forward: new attributes, or ones __init__ set to a placeholder.)
        saved = [
            k
            for k, v in vars(op).items()
            if k != "inputs"
            and (k not in before or (isinstance(v, xp.ndarray) and before[k] is not v))
        ]
        if saved:
            self.added[id(op)] = (op, saved)
        if sum(getattr(v, "nbytes", 0) for k, v in vars(op).items() if k in saved) >= _BIG:
            self.saved[id(op)] = saved
            if not t.requires_grad:  # no VJP will read them (eager keeps no graph node here)
                _release(op, saved)
        self.entries.append(entry)
        return t

    def _attr_ref(self, v):
        """A reference when ``v`` is (or is a tuple holding) an array made during the step."""
        if isinstance(v, xp.ndarray) and id(v) in self.slot_of:
            return self._srefs[self.slot_of[id(v)]]
        if isinstance(v, tuple) and any(
            isinstance(x, xp.ndarray) and id(x) in self.slot_of for x in v
        ):
            return Several(tuple(self._ref(x) for x in v))
        return None

    def recomputed(self, fn, args, kwargs, out) -> None:
        refs = [self._ref(a) for a in args]
        kw = {k: self._ref(v) for k, v in kwargs.items()}
        slots = [self._new(o) for o in out] if isinstance(out, tuple) else self._new(out)
        self.entries.append(
            _Entry("recomputed", fn, refs, slots, key=fn, label=_name(fn), kwargs=kw)
        )

    def redrawn(self, fn, args, out) -> None:
        refs = [self._ref(a) for a in args]
        self.entries.append(_Entry("redrawn", fn, refs, self._new(out), key=fn, label=_name(fn)))

    def side_effect(self, fn, args) -> None:
        refs = [self._const(a) for a in args]
        self.entries.append(_Entry("side_effect", fn, refs, key=fn, label=_name(fn)))

    def call(self, method, args, kwargs):
        if any(callable(a) and not isinstance(a, (Tensor, Op)) for a in kwargs.values()) or (
            kwargs.get("closure") is not None
        ):
            self.escape(f"{_name(method)} with a closure")
        self.busy = True
        try:
            result = method(*args, **kwargs)
        finally:
            self.busy = False
        refs = [self._const(a) for a in args]
        kw = {k: self._const(v) for k, v in kwargs.items()}
        out = self._new(result._data) if isinstance(result, Tensor) else None
        self.entries.append(
            _Entry("call", method, refs, out, key=method, label=_name(method), kwargs=kw)
        )
        return result

    # ----- the backward walk: engine._walk reports each step, recorded as it is reported -----
    @contextlib.contextmanager
    def watching_backward(self, create_graph: bool) -> Iterator[_Recording | None]:
        """Around the engine's walk: yields the observer that records it (this recording), or
        None where the step cannot be replayed anyway; nothing the walk runs is recorded as ops."""
        if create_graph:
            self.escape("create_graph=True (gradients of gradients)")
        if state.anomaly:
            self.escape("detect_anomaly inside the step")
        self.busy = True
        try:
            yield self if self.reason is None else None
        finally:
            self.busy = False

    def vjp(self, t: Tensor, upstream, in_grads) -> None:
        node = t._node
        inputs = node.inputs
        if not isinstance(in_grads, (tuple, list)) or len(in_grads) != len(inputs):
            self.escape(f"the vjp of {node.name} returned an unexpected value")
            in_grads = tuple(in_grads)
        need = tuple(bool(i.requires_grad) for i in inputs)
        self.vjp_ops[id(node)] = _SHARED.setdefault(need, need)
        refs = [self._const(backend.ArrayMath), self._ref(upstream)]
        refs += [self._ref_tensor(i) for i in inputs] + [self._ref_tensor(t)]
        # The slots the walk sends on (the engine's rule); the replay's op remembers ``need``.
        out = [self._new(ig) if engine.receives(i, ig) else None for i, ig in zip(inputs, in_grads)]
        self.entries.append(_Entry("vjp", None, refs, out, label=node.name, op=node))

    def sent(self, t, to: Tensor, raw, grad, prev, total) -> None:
        if grad is not raw:
            shape = to._data.shape
            refs = [self._ref(raw), self._const(shape)]
            self.entries.append(_Entry("sum_to", backend.ArrayMath.sum_to, refs, self._new(grad)))
        if prev is not None:
            refs = [self._ref(prev), self._ref(grad)]
            if total is prev:  # added in place into a sum the walk made: the same array
                self.entries.append(_Entry("add", None, refs, self._renamed(total), key=True))
            else:
                self.entries.append(_Entry("add", None, refs, self._new(total)))

    def leaf(self, t: Tensor, g) -> None:
        if t._node is not None:
            self.escape("retain_grad() on an intermediate tensor inside the step")
            return
        # A writeable array owning its memory and held by one slot may become .grad uncopied.
        owned = (
            isinstance(g, xp.ndarray)
            and g.flags.owndata
            and g.flags.writeable
            and self.holders.get(id(g)) == 1
        )
        refs = [self._leaf_ref(t), self._ref(g), self._const(False)]
        self.entries.append(_Entry("leaf", engine.to_leaf, refs, key=owned, label="grad"))

    def freed(self, t: Tensor) -> None:
        # The entries keep the op (the replay copies it), and with it what its forward saved:
        # the large arrays go now, as the replay lets them go after this VJP.
        node = t._node
        if id(node) in self.saved:
            _release(node, self.saved[id(node)])

    def _leaf_ref(self, t: Tensor):
        k = self.input_ids.get(id(t))
        if k is not None:
            return Input(k)
        return self._const(t)


def _forget(rec: _Recording, key: int, _ref) -> None:
    """An array seen by a recording was freed: its address may now be reused by another."""
    rec.slot_of.pop(key, None)
    rec.holders.pop(key, None)
    rec._watch.pop(key, None)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# ----- comparing two recordings -----
def _same(a, b) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, xp.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(xp.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, ReturnsObject):
        return a.obj is b.obj
    if isinstance(a, ReturnsValue):
        return _same(a.value, b.value)
    if isinstance(a, (Tensor, Op)) or type(a).__eq__ is object.__eq__:
        return False
    if isinstance(a, xp.generic):
        return a.dtype == b.dtype and bool(a == b)
    try:
        return bool(a == b)
    except Exception:
        return False


def _same_external(a: Tensor, b: Tensor) -> bool:
    if a is b:
        return True
    # Two different tensors made during the step: a constant, fine when both runs made the same.
    return not a.requires_grad and not b.requires_grad and _same(a._data, b._data)


def _difference(r1: _Recording, r2: _Recording) -> str | None:
    """Where two recordings of the same step disagree, or None."""
    if len(r1.entries) != len(r2.entries):
        return f"the step ran {len(r1.entries)} operations once and {len(r2.entries)} the next time"
    for k, (a, b) in enumerate(zip(r1.entries, r2.entries)):
        why = _entry_difference(a, b) or _operands_difference(a, b, r1, r2)
        if why is not None:
            return f"operation {k} ({b.kind} {b.label}) {why}"
    return None


def _entry_difference(a: _Entry, b: _Entry) -> str | None:
    """How two entries at the same place differ in what they are (not in their operands)."""
    if a.kind != b.kind or a.out != b.out:
        return "differs between two runs"
    if a.kind == "op":
        if a.key[0] is not b.key[0] or not _same(a.key[1], b.key[1]):
            return "was made with different settings in two runs"
        if not _same(a.binds, b.binds):
            return "differs between two runs"
    elif a.kind in ("recomputed", "redrawn", "side_effect", "call", "leaf", "sum_to"):
        if getattr(a.fn, "__func__", a.fn) is not getattr(b.fn, "__func__", b.fn):
            return "differs between two runs"
    if len(a.args) != len(b.args) or a.kwargs.keys() != b.kwargs.keys():
        return "had different arguments in two runs"
    return None


def _operands_difference(a: _Entry, b: _Entry, r1: _Recording, r2: _Recording) -> str | None:
    """How two entries' operands differ: where they come from, or the constants' values."""
    for x, y in zip([*a.args, *a.kwargs.values()], [*b.args, *b.kwargs.values()]):
        if type(x) is not type(y) or (isinstance(x, (Slot, Input)) and x.k != y.k):
            return "had different arguments in two runs"
        if isinstance(x, External):
            if not _same_external(r1.externals[x.k], r2.externals[y.k]):
                return "read a constant computed from the step's data (it changed)"
        elif isinstance(x, Constant):
            why = _constant_difference(r1.consts[x.k], r2.consts[y.k])
            if why is not None:
                return why
    return None


def _constant_difference(cx, cy) -> str | None:
    if isinstance(cx, Op) and isinstance(cy, Op):
        return None  # the math namespace or a copy of the op: compared as entries
    if isinstance(cx, Tensor) and isinstance(cy, Tensor):
        if cx is not cy and not _same_external(cx, cy):
            return "used a different tensor in two runs"
        return None
    if not _same(cx, cy):
        return "was given a different value in two runs"
    return None
