"""The replay of ``cr.compile``: a recording turned into one straight-line Python function."""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np

from chainrule.autograd.tensor import Tensor, constant
from chainrule.jit.recording import _Recording, _release
from chainrule.ops.base import Op


class _Need:
    """Stands in for a recorded op's input in a replay: only whether it wanted a gradient."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool):
        self.requires_grad = requires_grad


_NEED = {True: _Need(True), False: _Need(False)}


class _Unsupported(Exception):
    """The step returned something a replay cannot rebuild (the message says what)."""


def _owned_leaf(t: Tensor, g: np.ndarray) -> None:
    """``engine._to_leaf`` for a gradient array that nothing else refers to: no copy needed."""
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    t._grad = constant(g) if t._grad is None else constant(t._grad._data + g)


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
        # What the replay calls and reads, in one tuple per kind (F: functions, C: constants,
        # E: external tensors, O: ops): F[12] rather than a global f12 each, whose names Python
        # would intern (6,000 of them in a 1,000-op chain, 1 MiB).
        tables: dict[str, list] = {}

        def bind(prefix: str, value) -> str:
            table = tables.setdefault(prefix.upper(), [])
            table.append(value)
            return f"{prefix.upper()}[{len(table) - 1}]"

        ext_names = [bind("e", t) for t in rec.externals]
        const_names: dict[int, str] = {}

        def expr(ref) -> str:
            kind, k = ref
            if kind == "s":
                return f"s{k}"
            if kind == "e":
                return f"{ext_names[k]}._data"
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
        entries = rec.entries
        rec.entries = []  # used up here, each entry as its lines are written (lower peak)
        for i, e in enumerate(entries):
            entries[i] = None
            args = [expr(r) for r in e.args] + [f"{n}={expr(r)}" for n, r in e.kwargs.items()]
            call = ", ".join(args)
            if e.kind == "input":
                src = (
                    f"{expr(e.args[0])}._data"
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
                lines.append(f"s{e.out} = {rhs}._data" if e.out in last or e.out in kept else rhs)
            elif e.out in last or e.out in kept:
                lines.append(f"s{e.out} = {rhs}")
            else:
                lines.append(rhs)
            if id(e.op) in rec.saved and (
                e.kind == "vjp" or (e.kind == "op" and id(e.op) not in rec.vjp_ops)
            ):  # after its VJP, or after forward when it has none
                kept_attrs = tuple(rec.saved[id(e.op)])
                lines.append(f"{bind('f', _release)}({bind('o', ops[id(e.op)])}, {kept_attrs!r})")
            dead = dies_at.get(i)
            if dead:
                lines.append("del " + ", ".join(f"s{k}" for k in sorted(dead)))
        slots = sorted(set(_template_slots(template)))
        ret = ", ".join(f"s{k}" for k in slots)
        lines.append(f"return ({ret}{',' if len(slots) == 1 else ''})")
        self.template = template
        self.slots = slots
        self.n_arrays = rec.n_slots
        self.dtypes = sorted(rec.dtypes)
        # The recording is used up (the lines name what they need): it is emptied before the
        # compiler's peak. expr is recursive, so its closure refers to itself: unbound, the
        # cycle that would keep the recording alive until a garbage collection is gone.
        rec.drop()
        expr = ops = last = dies_at = entries = e = None
        names.update((k, tuple(v)) for k, v in tables.items())
        tables = None
        sources = _functions([f"t{k}" for k in range(n_inputs)], lines)
        lines = owned = None
        for src in sources:
            # One compile() per function: compiling a 4,000-line function at once took 14 MiB.
            exec(compile(src, "<cr.compile replay>", "exec"), names)
        self.source = "".join(sources)
        sources = None
        self._run = names["replay"]

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


# Longer replays are cut into functions of this many lines: Python's compiler needs memory in
# proportion to the function it compiles (14 MiB for the 4,000 lines of a 1,000-op chain, at the
# compiling call's peak; 0.9 MiB in pieces of 250).
_PART_LINES = 250
# The replay's locals: slots s<k> and inputs t<k>; not an attribute (".s1") nor the name of one
# in quotes (a _release line's ('s1',)).
_LOCAL = re.compile(r"(?<![.\w'])[st]\d+\b")


def _functions(params: list[str], lines: list[str]) -> list[str]:
    """The source of ``replay(*params)`` running ``lines``: one function, or for a long replay a
    driver calling parts in turn.

    A value used in one part only stays a local there. A value that crosses from one part to
    another (and every input) lives in the list ``S`` that all parts share, as ``S[i]``, and its
    ``del`` becomes ``S[i] = None``: it is freed where it was before, and passing thousands of
    saved activations from part to part costs nothing.
    """

    def body(ls):
        return "".join(f"    {ln}\n" for ln in ls)

    if len(lines) <= _PART_LINES:
        return [f"def replay({', '.join(params)}):\n" + body(lines)]
    parts_of: dict[str, set[int]] = {}
    for i, ln in enumerate(lines):
        for name in _LOCAL.findall(ln):
            parts_of.setdefault(name, set()).add(i // _PART_LINES)
    shared = {name: i for i, name in enumerate(params)}
    for name, parts in parts_of.items():
        if len(parts) > 1 and name not in shared:
            shared[name] = len(shared)

    def sub(m: re.Match) -> str:
        i = shared.get(m.group())
        return m.group() if i is None else f"S[{i}]"

    def rewrite(ln: str) -> str:
        if not ln.startswith("del "):
            return _LOCAL.sub(sub, ln)
        names = _LOCAL.findall(ln)
        local = [n for n in names if n not in shared]
        gone = [f"S[{shared[n]}] = None" for n in names if n in shared]
        return "; ".join(([f"del {', '.join(local)}"] if local else []) + gone)

    sources = []
    calls = []
    n_parts = (len(lines) + _PART_LINES - 1) // _PART_LINES
    for j in range(n_parts):
        part = [rewrite(ln) for ln in lines[j * _PART_LINES : (j + 1) * _PART_LINES]]
        sources.append(f"def _part{j}(S):\n" + body(part))
        calls.append(f"_part{j}(S)" if j + 1 < n_parts else f"return _part{j}(S)")
    first = f"S = [{', '.join(params)}{',' if len(params) == 1 else ''}]"
    if len(shared) > len(params):
        first += f" + [None] * {len(shared) - len(params)}"
    return [*sources, f"def replay({', '.join(params)}):\n" + body([first, *calls])]


def _template(out, rec: _Recording):
    """The step's result with each Tensor replaced by where a replay finds it."""
    if isinstance(out, Tensor):
        k = rec.slot_of.get(id(out._data))
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
