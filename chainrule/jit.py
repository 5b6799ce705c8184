"""``cr.compile``: record a training step once, then replay it without rebuilding the graph.

Eager chainrule spends most of a small step in Python: making Tensors and graph nodes, sorting the
graph, looking gradients up in dicts. None of that changes from one step to the next when the
shapes stay the same. ``compile`` runs the step eagerly under a recorder that notes every array
operation in order (each op's forward, each VJP of the backward walk with the gradient sums it
does, every value derived from the data, every random draw, every change to state outside the
graph such as BatchNorm's running statistics, and the optimiser's ``zero_grad``/``step`` as whole
calls), and turns that list into one straight-line Python function. Later calls with inputs of
the same shapes and dtypes run that function: the same NumPy calls on the same kinds of arrays in
the same order, so the results equal eager execution to the last bit, with no graph built.

What a recording cannot replay is detected while recording, and the step then stays eager, with
a warning that says why: a value read back into Python (``.item()``, ``bool(t)``, ``.numpy()``),
gradients of gradients, forward mode, ``detect_anomaly``. A step is recorded twice before it is
replayed and the two recordings must agree; Python control flow that depends on the data shows up
as a difference (different ops, or a constant array with different values) and also keeps the step
eager. A replay is guarded: a module switched between ``train()`` and ``eval()``, a parameter whose
``requires_grad`` changed, or a different grad mode records again, as does a new input shape
(a small cache keeps one replay per shape).

What a replay does not do: run the Python of ``step_fn`` (a ``print`` or a counter inside it runs
only while recording), build a graph (returned Tensors are detached), or notice a parameter whose
``.data`` was replaced by a new array outside the step in some other way than assignment to it
(assignments are fine: parameters are read through their Tensor at every replay).
"""

from __future__ import annotations

import builtins
import copy
import functools
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.autograd import engine
from chainrule.autograd.function import apply, constant
from chainrule.autograd.grad_mode import _GradMode, state
from chainrule.autograd.tensor import Tensor
from chainrule.errors import user_line
from chainrule.ops.base import Op

__all__ = ["CompiledStep", "compile"]


class CompileWarning(UserWarning):
    """A compiled step fell back to eager execution (the message says why)."""


class _Need:
    """Stands in for a recorded op's input in a replay: only whether it wanted a gradient."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool):
        self.requires_grad = requires_grad


_NEED = {True: _Need(True), False: _Need(False)}


# An op whose forward keeps at least this many bytes for its backward has them released right after
# its VJP in a replay (as eager backward frees the graph), not held until the next step.
_BIG = 1 << 16


def _release(op, names) -> None:
    d = op.__dict__
    for n in names:
        d.pop(n, None)


class _Unsupported(Exception):
    pass


# Operand references: ("s", k) slot k (an array made during the step), ("e", k) external tensor
# k (read through .data at replay: parameters, buffers, constants made in the step), ("c", k)
# constant k (passed as it is), ("t", k) the k-th input object itself.
class _Entry:
    __slots__ = ("args", "binds", "fn", "key", "kind", "kwargs", "label", "op", "out")

    def __init__(self, kind, fn, args, out=None, key=None, label="", op=None, kwargs=None):
        self.kind = kind  # op, vjp, derived, fresh, effect, call, add, sum_to, leaf, input
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}
        self.out = out  # None, a slot, or a list of slots (None where a result is unused)
        self.key = key
        self.label = label
        self.op = op
        self.binds = {}  # op attribute -> reference (a per-call array such as a mask)


class _Recording:
    """What one eager run of the step did, as a list of entries over numbered array slots."""

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
        self.reason: str | None = None
        self.guards: dict[int, tuple[Any, bool]] = {}
        self.inputs = inputs
        self.input_ids = {id(x): k for k, x in enumerate(inputs)}
        self.vjp_ops: dict[int, tuple[bool, ...]] = {}
        self.saved: dict[int, list[str]] = {}
        self.template = None
        for k, x in enumerate(inputs):
            arr = x.data if isinstance(x, Tensor) else x
            self.entries.append(_Entry("input", None, [("t", k)], self._new(arr)))

    # ----- references -----
    def _new(self, arr) -> int:
        k = self.n_slots
        self.n_slots += 1
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

    def _ref_tensor(self, t: Tensor):
        k = self.slot_of.get(id(t.data))
        if k is not None:
            return ("s", k)
        k = self.ext_index.get(id(t))
        if k is None:
            k = self.ext_index[id(t)] = len(self.externals)
            self.externals.append(t)
        return ("e", k)

    def _ref(self, v):
        if isinstance(v, Tensor):
            return self._ref_tensor(v)
        if isinstance(v, (np.ndarray, np.generic)):  # a 0-d result may come back as a scalar
            k = self.slot_of.get(id(v))
            if k is not None:
                return ("s", k)
        self.consts.append(v)
        return ("c", len(self.consts) - 1)

    def _const(self, v):
        self.consts.append(v)
        return ("c", len(self.consts) - 1)

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
                if name not in getattr(type(op), "rebind", ()):
                    self.escape(
                        f"the {op.name} op keeps a value computed from the step's data in its "
                        f"attribute {name!r}, which a replay cannot update"
                    )
                entry.binds[name] = ref
            else:
                attrs.append((name, v))
        entry.key = (type(op), attrs)
        entry.out = self._new(t.data)
        # What forward kept on the op for its backward; big arrays are let go after the VJP.
        saved = [k for k, v in vars(op).items() if k not in before and k != "inputs"]
        self.added[id(op)] = (op, saved)
        if sum(getattr(v, "nbytes", 0) for k, v in vars(op).items() if k in saved) >= _BIG:
            self.saved[id(op)] = saved
        self.entries.append(entry)
        return t

    def _attr_ref(self, v):
        """A reference when ``v`` is (or is a tuple holding) an array made during the step."""
        if isinstance(v, np.ndarray) and id(v) in self.slot_of:
            return ("s", self.slot_of[id(v)])
        if isinstance(v, tuple) and any(
            isinstance(x, np.ndarray) and id(x) in self.slot_of for x in v
        ):
            return ("tuple", [self._ref(x) for x in v])
        return None

    def derived(self, fn, args, kwargs, out) -> None:
        refs = [self._ref(a) for a in args]
        kw = {k: self._ref(v) for k, v in kwargs.items()}
        slots = [self._new(o) for o in out] if isinstance(out, tuple) else self._new(out)
        self.entries.append(_Entry("derived", fn, refs, slots, key=fn, label=_name(fn), kwargs=kw))

    def fresh(self, fn, args, out) -> None:
        refs = [self._ref(a) for a in args]
        self.entries.append(_Entry("fresh", fn, refs, self._new(out), key=fn, label=_name(fn)))

    def effect(self, fn, args) -> None:
        refs = [self._const(a) for a in args]
        self.entries.append(_Entry("effect", fn, refs, key=fn, label=_name(fn)))

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
        out = self._new(result.data) if isinstance(result, Tensor) else None
        self.entries.append(
            _Entry("call", method, refs, out, key=method, label=_name(method), kwargs=kw)
        )
        return result

    # ----- the backward walk: engine._run's first-order path, recorded as it runs -----
    def backward(self, roots, root_grads, retain_graph, create_graph, targets):
        if create_graph:
            self.escape("create_graph=True (gradients of gradients)")
        if state.anomaly:
            self.escape("detect_anomaly inside the step")
        if self.reason is not None:
            self.busy = True
            try:
                return engine._run(roots, root_grads, retain_graph, create_graph, targets)
            finally:
                self.busy = False
        self.busy = True
        try:
            return self._backward(roots, root_grads, retain_graph, targets)
        finally:
            self.busy = False

    def _backward(self, roots, root_grads, retain_graph, targets):
        m = backend.ArrayMath
        order = engine.toposort(roots)
        grads: dict[int, Any] = {}
        for r, g in zip(roots, root_grads):
            self._accumulate(grads, r, g)
        want = None if targets is None else {id(t) for t in targets}
        found: dict[int, Any] = {}
        with _GradMode(False):
            for t in reversed(order):
                g = grads.pop(id(t), None)
                if g is None:
                    continue
                if want is not None and id(t) in want:
                    found[id(t)] = g
                node = t._node
                if node is None:
                    if want is None:
                        owned = (
                            isinstance(g, np.ndarray)
                            and g.flags.owndata
                            and g.flags.writeable
                            and self.holders.get(id(g)) == 1
                        )
                        engine._to_leaf(t, g, False)
                        target = self._leaf_ref(t)
                        self.entries.append(
                            _Entry(
                                "leaf",
                                engine._to_leaf,
                                [target, self._ref(g), self._const(False)],
                                label="grad",
                            )
                        )
                        self.entries[-1].key = owned
                    continue
                inputs = node.inputs
                refs = [self._const(m), self._ref(g)]
                refs += [self._ref_tensor(i) for i in inputs] + [self._ref_tensor(t)]
                in_grads = node.vjp(m, g, *[i.data for i in inputs], t.data)
                self.vjp_ops[id(node)] = tuple(bool(i.requires_grad) for i in inputs)
                entry = _Entry("vjp", None, refs, [], label=node.name, op=node)
                self.entries.append(entry)
                if not isinstance(in_grads, (tuple, list)) or len(in_grads) != len(inputs):
                    self.escape(f"the vjp of {node.name} returned an unexpected value")
                    in_grads = tuple(in_grads)
                for inp, ig in zip(inputs, in_grads):
                    if ig is None or not inp.requires_grad:
                        entry.out.append(None)
                        continue
                    entry.out.append(self._new(ig))
                    if ig.shape != inp.data.shape:
                        shape = inp.data.shape
                        ig2 = m.sum_to(ig, shape)
                        ref = self._ref(ig)
                        self.entries.append(
                            _Entry("sum_to", m.sum_to, [ref, self._const(shape)], self._new(ig2))
                        )
                        ig = ig2
                    self._accumulate(grads, inp, ig)
                if not retain_graph:
                    node.inputs = engine.FREED
        return found

    def _leaf_ref(self, t: Tensor):
        k = self.input_ids.get(id(t))
        if k is not None:
            return ("t", k)
        return self._const(t)

    def _accumulate(self, grads: dict, t: Tensor, g) -> None:
        prev = grads.get(id(t))
        if prev is None:
            grads[id(t)] = g
            return
        new = prev + g
        self.entries.append(_Entry("add", None, [self._ref(prev), self._ref(g)], self._new(new)))
        grads[id(t)] = new


def _forget(rec: _Recording, key: int, _ref) -> None:
    """An array seen by a recording was freed: its address may now be reused by another."""
    rec.slot_of.pop(key, None)
    rec.holders.pop(key, None)
    rec._watch.pop(key, None)


def _owned_leaf(t: Tensor, g: np.ndarray) -> None:
    """``engine._to_leaf`` for a gradient array that nothing else refers to: no copy needed."""
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    t.grad = constant(g) if t.grad is None else constant(t.grad.data + g)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


# ----- comparing two recordings -----
def _same(a, b) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (Tensor, Op)) or type(a).__eq__ is object.__eq__:
        return False
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and bool(a == b)
    try:
        return bool(a == b)
    except Exception:
        return False


def _same_external(a: Tensor, b: Tensor) -> bool:
    if a is b:
        return True
    # Two different tensors made during the step: a constant, fine when both runs made the same.
    return not a.requires_grad and not b.requires_grad and _same(a.data, b.data)


def _difference(r1: _Recording, r2: _Recording) -> str | None:
    """Where two recordings of the same step disagree, or None."""
    if len(r1.entries) != len(r2.entries):
        return f"the step ran {len(r1.entries)} operations once and {len(r2.entries)} the next time"
    for k, (a, b) in enumerate(zip(r1.entries, r2.entries)):
        what = f"operation {k} ({b.kind} {b.label})"
        if a.kind != b.kind or a.out != b.out:
            return f"{what} differs between two runs"
        if a.kind == "op":
            if a.key[0] is not b.key[0] or not _same(a.key[1], b.key[1]):
                return f"{what} was made with different settings in two runs"
            if not _same(a.binds, b.binds):
                return f"{what} differs between two runs"
        elif a.kind in ("derived", "fresh", "effect", "call", "leaf", "sum_to"):
            fa = getattr(a.fn, "__func__", a.fn)
            fb = getattr(b.fn, "__func__", b.fn)
            if fa is not fb:
                return f"{what} differs between two runs"
        if len(a.args) != len(b.args) or a.kwargs.keys() != b.kwargs.keys():
            return f"{what} had different arguments in two runs"
        for x, y in zip(
            list(a.args) + list(a.kwargs.values()), list(b.args) + list(b.kwargs.values())
        ):
            if x[0] != y[0]:
                return f"{what} had different arguments in two runs"
            if x[0] in ("s", "t") and x[1] != y[1]:
                return f"{what} had different arguments in two runs"
            if x[0] == "e" and not _same_external(r1.externals[x[1]], r2.externals[y[1]]):
                return f"{what} read a constant computed from the step's data (it changed)"
            if x[0] == "c":
                cx, cy = r1.consts[x[1]], r2.consts[y[1]]
                if isinstance(cx, Op) and isinstance(cy, Op):
                    continue
                if isinstance(cx, Tensor) and isinstance(cy, Tensor):
                    if cx is not cy and not _same_external(cx, cy):
                        return f"{what} used a different tensor in two runs"
                    continue
                if not _same(cx, cy):
                    return f"{what} was given a different value in two runs"
    return None


# ----- the replay function -----
class _Tape:
    """A recording turned into straight-line Python: ``run(*inputs)`` replays the step."""

    def __init__(self, rec: _Recording, template, n_inputs: int):
        ops = self._replay_ops(rec)
        names: dict[str, Any] = {"_constant": constant}
        lines: list[str] = []
        last = self._last_uses(rec)
        kept = set(_template_slots(template))
        dies_at: dict[int, list[int]] = {}
        for k, at in last.items():
            if k not in kept:
                dies_at.setdefault(at, []).append(k)
        counts: dict[str, int] = {}

        def bind(prefix: str, value) -> str:
            k = counts.get(prefix, 0)
            counts[prefix] = k + 1
            name = f"{prefix}{k}"
            names[name] = value
            return name

        ext_names = [bind("e", t) for t in rec.externals]
        const_names: dict[int, str] = {}

        def expr(ref) -> str:
            kind, k = ref
            if kind == "s":
                return f"s{k}"
            if kind == "e":
                return f"{ext_names[k]}.data"
            if kind == "t":
                return f"t{k}"
            if kind == "c":
                if k not in const_names:
                    const_names[k] = bind("c", ops.get(id(rec.consts[k]), rec.consts[k]))
                return const_names[k]
            if kind == "tuple":
                inner = "".join(expr(r) + ", " for r in k)
                return f"({inner})"
            raise AssertionError(kind)

        self.counts = {"ops": 0, "vjps": 0, "calls": 0, "other": 0}
        owned = self._owned_gradients(rec, last, kept)
        for i, e in enumerate(rec.entries):
            args = [expr(r) for r in e.args] + [f"{n}={expr(r)}" for n, r in e.kwargs.items()]
            call = ", ".join(args)
            if e.kind == "input":
                src = (
                    f"{expr(e.args[0])}.data"
                    if isinstance(rec.inputs[e.args[0][1]], Tensor)
                    else expr(e.args[0])
                )
                lines.append(f"s{e.out} = {src}")
                continue
            if e.kind == "op":
                op = ops[id(e.op)]
                if e.binds:
                    oname = bind("o", op)
                    for attr, ref in e.binds.items():
                        lines.append(f"{oname}.{attr} = {expr(ref)}")
                rhs = f"{bind('f', op.forward)}({call})"
                self.counts["ops"] += 1
            elif e.kind == "vjp":
                rhs = f"{bind('f', ops[id(e.op)].vjp)}({call})"
                self.counts["vjps"] += 1
            elif e.kind == "add":
                rhs = f"{args[0]} + {args[1]}"
            elif e.kind == "leaf" and e.args[1][0] == "s" and e.args[1][1] in owned:
                # A gradient array that nothing else holds becomes .grad as it is (no copy).
                rhs = f"{bind('f', _owned_leaf)}({args[0]}, {args[1]})"
            else:
                rhs = f"{bind('f', e.fn)}({call})"
                self.counts["calls" if e.kind == "call" else "other"] += 1
            if e.out is None:
                lines.append(rhs)
            elif isinstance(e.out, list):
                targets = [
                    f"s{k}" if k is not None and (k in last or k in kept) else "_" for k in e.out
                ]
                lines.append(f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {rhs}")
            elif e.kind == "call":
                lines.append(f"s{e.out} = {rhs}.data" if e.out in last or e.out in kept else rhs)
            elif e.out in last or e.out in kept:
                lines.append(f"s{e.out} = {rhs}")
            else:
                lines.append(rhs)
            if e.kind == "vjp" and id(e.op) in rec.saved:
                kept_attrs = tuple(rec.saved[id(e.op)])
                lines.append(f"{bind('f', _release)}({bind('o', ops[id(e.op)])}, {kept_attrs!r})")
            dead = dies_at.get(i)
            if dead:
                lines.append("del " + ", ".join(f"s{k}" for k in sorted(dead)))
        slots = sorted(set(_template_slots(template)))
        ret = ", ".join(f"s{k}" for k in slots)
        lines.append(f"return ({ret}{',' if len(slots) == 1 else ''})")
        params = ", ".join(f"t{k}" for k in range(n_inputs))
        self.source = f"def replay({params}):\n" + "".join(f"    {ln}\n" for ln in lines)
        exec(builtins.compile(self.source, "<cr.compile replay>", "exec"), names)
        self._run = names["replay"]
        self.template = template
        self.slots = slots
        self.n_arrays = rec.n_slots
        self.dtypes = sorted(rec.dtypes)

    @staticmethod
    def _replay_ops(rec: _Recording) -> dict[int, Op]:
        """A copy of each recorded op for the replay (the recording's own ops belong to the user's
        graph); an input is remembered only by whether it wanted a gradient."""
        out: dict[int, Op] = {}
        for e in rec.entries:
            if e.op is not None and id(e.op) not in out:
                c = copy.copy(e.op)
                need = rec.vjp_ops.get(id(e.op))
                if need is not None:
                    c.inputs = tuple(_NEED[b] for b in need)
                elif c.inputs is not None:
                    c.inputs = tuple(
                        _NEED[bool(getattr(i, "requires_grad", False))] for i in c.inputs
                    )
                out[id(e.op)] = c
        return out

    @staticmethod
    def _owned_gradients(rec: _Recording, last: dict[int, int], kept: set) -> set[int]:
        """Slots of gradients that a leaf may keep without the engine's defensive copy: arrays
        made by the backward walk that own their memory, are held by no other slot and are not
        used after being stored."""
        made_by = {}
        for i, e in enumerate(rec.entries):
            outs = e.out if isinstance(e.out, list) else [e.out]
            for k in outs:
                if k is not None:
                    made_by[k] = (e.kind, i)
        owned = set()
        for i, e in enumerate(rec.entries):
            if e.kind != "leaf" or e.args[1][0] != "s":
                continue
            k = e.args[1][1]
            if (
                e.key  # at recording: a writeable array owning its memory, held by one slot
                and made_by.get(k, ("", 0))[0] in ("vjp", "add", "sum_to")
                and last.get(k) == i
                and k not in kept
            ):
                owned.add(k)
        return owned

    @staticmethod
    def _last_uses(rec: _Recording) -> dict[int, int]:
        last: dict[int, int] = {}

        def visit(ref, i):
            if ref[0] == "s":
                last[ref[1]] = i
            elif ref[0] == "tuple":
                for r in ref[1]:
                    visit(r, i)

        for i, e in enumerate(rec.entries):
            for r in list(e.args) + list(e.kwargs.values()) + list(e.binds.values()):
                visit(r, i)
        return last

    def __call__(self, inputs: list):
        values = self._run(*inputs)
        by_slot = dict(zip(self.slots, values))
        return _build(self.template, by_slot, inputs)


def _template(out, rec: _Recording):
    """The step's result with each Tensor replaced by where a replay finds it."""
    if isinstance(out, Tensor):
        k = rec.slot_of.get(id(out.data))
        if k is not None:
            return ("__slot__", k)
        j = rec.input_ids.get(id(out))
        if j is not None:
            return ("__input__", j)
        return ("__same__", out)
    if isinstance(out, tuple):
        return tuple(_template(x, rec) for x in out)
    if isinstance(out, list):
        return [_template(x, rec) for x in out]
    if isinstance(out, dict):
        return {k: _template(v, rec) for k, v in out.items()}
    if isinstance(out, np.ndarray) and id(out) in rec.slot_of:
        return ("__array__", rec.slot_of[id(out)])
    if out is None or isinstance(out, (bool, int, float, str)):
        return ("__value__", out)
    raise _Unsupported(f"the step returned a {type(out).__name__}, which a replay cannot rebuild")


def _template_slots(t):
    if isinstance(t, tuple) and len(t) == 2 and t[0] in ("__slot__", "__array__"):
        yield t[1]
    elif isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and t[0].startswith("__"):
        return
    elif isinstance(t, (tuple, list)):
        for x in t:
            yield from _template_slots(x)
    elif isinstance(t, dict):
        for x in t.values():
            yield from _template_slots(x)


def _build(t, by_slot, inputs):
    if isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and t[0].startswith("__"):
        tag, v = t
        if tag == "__slot__":
            return constant(by_slot[v])
        if tag == "__array__":
            return by_slot[v]
        if tag == "__input__":
            return inputs[v]
        return v
    if isinstance(t, tuple):
        return tuple(_build(x, by_slot, inputs) for x in t)
    if isinstance(t, list):
        return [_build(x, by_slot, inputs) for x in t]
    return {k: _build(v, by_slot, inputs) for k, v in t.items()}


# ----- the user-facing wrapper -----
class _Plan:
    __slots__ = ("fallback", "guards", "pending", "tape")

    def __init__(self):
        self.pending: _Recording | None = None
        self.tape: _Tape | None = None
        self.guards: list = []
        self.fallback: str | None = None


class CompiledStep:
    """A step function that is recorded on its first calls and replayed afterwards.

    Call it like the function it wraps. ``stats()`` says what happened: how many calls were
    replayed, recorded or run eagerly, and for each input signature the size of its replay.
    """

    def __init__(self, fn: Callable, cache_size: int = 8, warmup: int = 2):
        if warmup < 1:
            raise ValueError(f"compile: warmup must be at least 1, got {warmup}")
        self.fn = fn
        self.cache_size = cache_size
        self.warmup = warmup
        self._plans: OrderedDict[Any, _Plan] = OrderedDict()
        self.replays = 0
        self.recordings = 0
        self.eager_calls = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if state.tracer is not None:  # called inside another recording: be part of it
            return self.fn(*args, **kwargs)
        flat: list = []
        try:
            if not kwargs and all(type(a) is np.ndarray for a in args):
                flat = list(args)  # the common case, a batch of arrays: a cheaper key
                key = (tuple((a.shape, a.dtype.str) for a in args), state.grad_enabled)
            else:
                key = (_signature(args, flat), _signature(kwargs, flat), state.grad_enabled)
            hash(key)
        except TypeError:
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan()
            while len(self._plans) > self.cache_size:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        if plan.fallback is not None:
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        if plan.tape is not None:
            if _guards_hold(plan.guards):
                self.replays += 1
                return plan.tape(flat)
            plan.tape = None  # a module changed mode or a parameter was frozen: record again
        return self._record(plan, flat, args, kwargs)

    def _record(self, plan: _Plan, flat, args, kwargs):
        rec = _Recording(flat)
        self.recordings += 1
        state.tracer = rec
        try:
            out = self.fn(*args, **kwargs)
        finally:
            state.tracer = None
        if rec.reason is None:
            try:
                template = _template(out, rec)
            except _Unsupported as exc:
                rec.reason = str(exc)
        rec.finish()
        if rec.reason is not None:
            self._warn(plan, rec.reason)
            return out
        rec.template = template
        prev, plan.pending = plan.pending, rec
        recorded = 1 if prev is None else 2
        if prev is not None:
            diff = _difference(prev, rec)
            if diff is None and not _same(prev.template, template):
                diff = (
                    "it returned different Python values in two runs (a number read from a "
                    "tensor's data?); return the Tensor instead"
                )
            if diff is not None:
                self._warn(plan, f"{diff}: the step's Python depends on its data")
                plan.pending = None
                return out
        if recorded >= self.warmup:
            plan.tape = _Tape(rec, template, len(flat))
            plan.guards = _guards(rec)
            plan.pending = None
        return out

    def _warn(self, plan: _Plan, reason: str) -> None:
        plan.fallback = reason
        warnings.warn(
            f"cr.compile({_name(self.fn)}): running eagerly, because the step cannot be replayed: "
            f"{reason}",
            CompileWarning,
            stacklevel=4,
        )

    def stats(self) -> dict:
        """How the calls went, and per input signature: the replay's size or why it is eager."""
        plans = []
        for p in self._plans.values():
            if p.tape is not None:
                plans.append({"replay": True, **p.tape.counts, "arrays": p.tape.n_arrays,
                              "dtypes": p.tape.dtypes})  # fmt: skip
            else:
                plans.append({"replay": False, "eager_because": p.fallback})
        return {"replays": self.replays, "recordings": self.recordings,
                "eager_calls": self.eager_calls, "signatures": plans}  # fmt: skip

    def replay_source(self) -> str:
        """The Python of the most recent replay (for the curious; it reads as the step's ops)."""
        for p in reversed(self._plans.values()):
            if p.tape is not None:
                return p.tape.source
        return ""


def _signature(x, flat: list):
    if isinstance(x, Tensor):
        flat.append(x)
        return ("T", x.data.shape, x.data.dtype.str, x.requires_grad)
    if isinstance(x, np.ndarray):
        flat.append(x)
        return ("A", x.shape, x.dtype.str)
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_signature(v, flat) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _signature(v, flat)) for k, v in sorted(x.items())))
    if x is None or isinstance(x, (bool, int, float, str, np.generic)):
        return ("V", type(x).__name__, x)
    return ("O", id(x))  # a model or an optimiser passed in: the same object replays


def _guards(rec: _Recording) -> list:
    g = [(m, "training", flag) for m, flag in rec.guards.values()]
    for t in rec.externals:
        if t.requires_grad:  # a parameter: frozen since, or converted with .to(dtype)?
            g += [(t, "requires_grad", True), (t, "dtype", t.dtype)]
    return g


def _guards_hold(guards) -> bool:
    for obj, attr, value in guards:
        if getattr(obj, attr) != value:
            return False
    return True


def compile(step_fn: Callable | None = None, *, cache_size: int = 8, warmup: int = 2):
    """Records ``step_fn`` on its first calls and replays the recording afterwards.

    ``step_fn`` is a training (or evaluation) step: it takes Tensors or NumPy arrays (and other
    arguments that stay the same) and runs the forward pass, ``backward()``, ``zero_grad()`` and
    ``optimizer.step()``. The first ``warmup`` calls with a given input signature (shapes, dtypes,
    the other arguments' values) run eagerly under a recorder; later calls replay the recorded
    NumPy calls directly, with the same results to the last bit. Returned Tensors are detached.

    Args:
        step_fn: the step. Usable as ``@cr.compile`` or ``cr.compile(fn, cache_size=...)``.
        cache_size: how many input signatures keep a replay (the oldest is dropped).
        warmup: recordings before the first replay; two (the default) also proves that the
            step's Python does not depend on its data, so keep it unless the step is costly.

    Returns:
        A ``CompiledStep``, callable like ``step_fn``; ``stats()`` reports replays and fallbacks.
    """
    if step_fn is None:
        return lambda fn: CompiledStep(fn, cache_size=cache_size, warmup=warmup)
    return CompiledStep(step_fn, cache_size=cache_size, warmup=warmup)
