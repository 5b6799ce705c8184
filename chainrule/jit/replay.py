"""The replay of ``cr.compile``: a recording turned into one straight-line Python function.

``_SourceWriter`` writes one line (or a few) per recorded entry, with one method per kind of
entry. The lines name what they read through four tables handed to the compiled code: ``fn`` (the
functions it calls), ``const`` (constants), ``ext`` (tensors from outside the step, read through
``._data``) and ``op`` (the copies of the recorded ops whose attributes a replay sets). Arrays made
during the step are the locals ``s<k>``, the step's inputs the parameters ``t<k>``.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from chainrule.autograd import engine
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.jit.recording import _Entry, _Recording, _release
from chainrule.jit.refs import (
    Constant,
    External,
    Input,
    Ref,
    Returned,
    ReturnsArray,
    ReturnsInput,
    ReturnsObject,
    ReturnsTensor,
    ReturnsValue,
    Several,
    Slot,
)
from chainrule.ops.base import Op


class _Need:
    """Stands in for a recorded op's input in a replay: only whether it wanted a gradient."""

    __slots__ = ("requires_grad",)

    def __init__(self, requires_grad: bool):
        self.requires_grad = requires_grad


_NEED = {True: _Need(True), False: _Need(False)}


class _Unsupported(Exception):
    """The step returned something a replay cannot rebuild (the message says what)."""


# ----- the replay function -----
class _Tape:
    """A recording turned into straight-line Python: ``tape(inputs)`` replays the step."""

    def __init__(self, rec: _Recording, template, n_inputs: int):
        self.template = template
        self.slots = sorted(set(_template_slots(template)))
        self.n_arrays = rec.n_slots
        self.dtypes = sorted(rec.dtypes)
        # The writer and all it held die as _write returns; the recording is then emptied (the
        # lines name what they need), so neither is alive at the compiler's peak.
        lines, tables, self.counts = _write(rec, self.slots)
        rec.drop()
        sources = _functions([f"t{k}" for k in range(n_inputs)], lines)
        del lines
        self._run = _compile(sources, tables)
        self.source = "".join(sources)
        if isinstance(template, ReturnsTensor):  # the usual step returns its loss: no lookups
            self._finish = _one_tensor
        else:
            self._finish = functools.partial(_rebuild, template, self.slots)

    def __call__(self, inputs: list):
        return self._finish(self._run(*inputs), inputs)


def _one_tensor(values: tuple, inputs: list) -> Tensor:
    return constant(values[0])


def _rebuild(template, slots: list[int], values: tuple, inputs: list):
    return _build(template, dict(zip(slots, values)), inputs)


def _write(rec: _Recording, returned: list[int]) -> tuple[list[str], dict[str, tuple], dict]:
    """The replay's lines, the tables they read, and how many entries of each kind they run."""
    writer = _SourceWriter(rec, returned)
    entries = rec.entries
    rec.entries = []  # used up here, each entry as its lines are written (lower peak)
    for i, e in enumerate(entries):
        entries[i] = None
        writer.write(i, e)
    ret = ", ".join(f"s{k}" for k in returned)
    writer.lines.append(f"return ({ret}{',' if len(returned) == 1 else ''})")
    return writer.lines, {k: tuple(v) for k, v in writer.tables.items()}, writer.counts


def _compile(sources: list[str], tables: dict[str, tuple]):
    """The function ``replay`` that ``sources`` define, reading ``tables`` as globals."""
    names: dict[str, Any] = dict(tables)
    for src in sources:
        # One compile() per function: Python's compiler needs memory in proportion to the
        # function it compiles (benchmarks' "compile" workload, tests/compile/test_compile_memory.py).
        exec(compile(src, "<cr.compile replay>", "exec"), names)
    return names["replay"]


class _SourceWriter:
    """Writes the lines that replay a recording, one method per kind of entry.

    Each method returns the expression the entry computes (or None where it wrote its own
    lines); ``write`` assigns it to the entry's slots where a later line reads them, then frees
    what the op kept for its backward and the slots no later line reads.
    """

    def __init__(self, rec: _Recording, returned: list[int]):
        self.rec = rec
        self.ops = _replay_ops(rec)
        self.lines: list[str] = []
        # One tuple per kind, fn[12] rather than a global f12 each, whose names Python would
        # intern (thousands in a long chain).
        self.tables: dict[str, list] = {"fn": [], "const": [], "ext": [], "op": []}
        self._const_names: dict[int, str] = {}
        self._op_names: dict[int, str] = {}
        self.counts = {"ops": 0, "vjps": 0, "calls": 0, "other": 0}
        self.last = _last_uses(rec)
        self.kept = set(returned)
        self.dies_at: dict[int, list[int]] = {}
        for k, at in self.last.items():
            if k not in self.kept:
                self.dies_at.setdefault(at, []).append(k)
        self.owned = _owned_gradients(rec, self.last, self.kept)
        self._ext_names = [self._bind("ext", t) for t in rec.externals]

    # ----- names -----
    def _bind(self, table: str, value) -> str:
        values = self.tables[table]
        values.append(value)
        return f"{table}[{len(values) - 1}]"

    def _fn(self, f) -> str:
        return self._bind("fn", f)

    def _op_name(self, op: Op) -> str:
        name = self._op_names.get(id(op))
        if name is None:
            name = self._op_names[id(op)] = self._bind("op", op)
        return name

    def ref(self, r: Ref) -> str:
        """The expression for an operand."""
        match r:
            case Slot(k):
                return f"s{k}"
            case Input(k):
                return f"t{k}"
            case External(k):
                return f"{self._ext_names[k]}._data"
            case Constant(k):
                name = self._const_names.get(k)
                if name is None:
                    value = self.rec.consts[k]
                    name = self._const_names[k] = self._bind(
                        "const", self.ops.get(id(value), value)
                    )
                return name
            case Several(refs):
                return f"({''.join(self.ref(x) + ', ' for x in refs)})"
        raise TypeError(f"not a reference: {r!r}")

    def _args(self, e: _Entry) -> str:
        return ", ".join(
            [self.ref(r) for r in e.args] + [f"{n}={self.ref(r)}" for n, r in e.kwargs.items()]
        )

    def _used(self, k: int | None) -> bool:
        return k is not None and (k in self.last or k in self.kept)

    # ----- one entry -----
    def write(self, i: int, e: _Entry) -> None:
        rhs = getattr(self, f"_write_{e.kind}")(e)
        if rhs is not None:
            self._assign(e, rhs)
        self._release_saved(e)
        dead = self.dies_at.get(i)
        if dead:
            self.lines.append("del " + ", ".join(f"s{k}" for k in sorted(dead)))

    def _assign(self, e: _Entry, rhs: str) -> None:
        if isinstance(e.out, list):
            targets = [f"s{k}" if self._used(k) else "_" for k in e.out]
            self.lines.append(f"{', '.join(targets)}{',' if len(targets) == 1 else ''} = {rhs}")
        elif not self._used(e.out):
            self.lines.append(rhs)
        elif e.kind == "call":  # a method returning a Tensor (a loss): its array is the value
            self.lines.append(f"s{e.out} = {rhs}._data")
        else:
            self.lines.append(f"s{e.out} = {rhs}")

    def _release_saved(self, e: _Entry) -> None:
        """What a big op kept for its backward goes after its VJP, or after forward if none."""
        saved = self.rec.saved.get(id(e.op))
        if saved is not None and (
            e.kind == "vjp" or (e.kind == "op" and id(e.op) not in self.rec.vjp_ops)
        ):
            op = self._op_name(self.ops[id(e.op)])
            self.lines.append(f"{self._fn(_release)}({op}, {tuple(saved)!r})")

    # ----- the kinds of entry -----
    def _write_input(self, e: _Entry) -> None:
        (x,) = e.args
        tensor = isinstance(self.rec.inputs[x.k], Tensor)
        self.lines.append(f"s{e.out} = {self.ref(x)}{'._data' if tensor else ''}")

    def _write_op(self, e: _Entry) -> str:
        """An op's forward, after setting the per-call arrays it reads (a mask drawn this step)."""
        op = self.ops[id(e.op)]
        if e.binds:
            name = self._op_name(op)
            for attr, r in e.binds.items():
                self.lines.append(f"{name}.{attr} = {self.ref(r)}")
        self.counts["ops"] += 1
        return f"{self._fn(op.forward)}({self._args(e)})"

    def _write_vjp(self, e: _Entry) -> str:
        self.counts["vjps"] += 1
        return f"{self._fn(self.ops[id(e.op)].vjp)}({self._args(e)})"

    def _write_add(self, e: _Entry) -> str:
        a, b = e.args
        if e.key:  # eager added in place into a sum it made; so does the replay, into its own
            self.lines.append(f"{self.ref(a)} += {self.ref(b)}")
            return self.ref(a)
        return f"{self.ref(a)} + {self.ref(b)}"

    def _write_leaf(self, e: _Entry) -> str:
        t, g = e.args[0], e.args[1]
        if isinstance(g, Slot) and g.k in self.owned:
            # A gradient array that nothing else holds becomes .grad as it is (no copy).
            return f"{self._fn(engine.to_leaf)}({self.ref(t)}, {self.ref(g)}, False, True)"
        return self._write_function(e)

    def _write_call(self, e: _Entry) -> str:
        self.counts["calls"] += 1
        return f"{self._fn(e.fn)}({self._args(e)})"

    def _write_function(self, e: _Entry) -> str:
        """A recorded function called with the entry's operands (recomputed values, random
        draws, effects, sum_to)."""
        self.counts["other"] += 1
        return f"{self._fn(e.fn)}({self._args(e)})"

    _write_recomputed = _write_redrawn = _write_side_effect = _write_sum_to = _write_function


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
                c.inputs = tuple(_NEED[bool(getattr(i, "requires_grad", False))] for i in c.inputs)
            out[id(e.op)] = c
    return out


def _slots_in(r: Ref):
    """The slots an operand reads."""
    if isinstance(r, Slot):
        yield r.k
    elif isinstance(r, Several):
        for x in r.refs:
            yield from _slots_in(x)


def _last_uses(rec: _Recording) -> dict[int, int]:
    """Slot -> the index of the last entry that reads it."""
    last: dict[int, int] = {}
    for i, e in enumerate(rec.entries):
        for r in [*e.args, *e.kwargs.values(), *e.binds.values()]:
            for k in _slots_in(r):
                last[k] = i
    return last


def _owned_gradients(rec: _Recording, last: dict[int, int], kept: set) -> set[int]:
    """Slots of gradients that a leaf may keep without the engine's defensive copy: arrays made
    by the backward walk that own their memory, are held by no other slot and are not used after
    being stored."""
    made_by = {}
    for e in rec.entries:
        for k in e.out if isinstance(e.out, list) else [e.out]:
            if k is not None:
                made_by[k] = e.kind
    owned = set()
    for i, e in enumerate(rec.entries):
        if e.kind != "leaf" or not isinstance(e.args[1], Slot):
            continue
        k = e.args[1].k
        if (
            e.key  # at recording: a writeable array owning its memory, held by one slot
            and made_by.get(k) in ("vjp", "add", "sum_to")
            and last.get(k) == i
            and k not in kept
        ):
            owned.add(k)
    return owned


# Longer replays are cut into functions of this many lines: Python's compiler needs memory in
# proportion to the function it compiles (tests/compile/test_compile_memory.py bounds the peak).
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


def _template(out, rec: _Recording) -> Returned | tuple | list | dict:
    """The step's result with each Tensor or array replaced by where a replay finds it."""
    if isinstance(out, Tensor):
        k = rec.slot_of.get(id(out._data))
        if k is not None:
            return ReturnsTensor(k)
        j = rec.input_ids.get(id(out))
        if j is not None:
            return ReturnsInput(j)
        return ReturnsObject(out)
    if isinstance(out, tuple):
        return tuple(_template(x, rec) for x in out)
    if isinstance(out, list):
        return [_template(x, rec) for x in out]
    if isinstance(out, dict):
        return {k: _template(v, rec) for k, v in out.items()}
    if isinstance(out, xp.ndarray) and id(out) in rec.slot_of:
        return ReturnsArray(rec.slot_of[id(out)])
    if out is None or isinstance(out, (bool, int, float, str)):
        return ReturnsValue(out)
    raise _Unsupported(f"the step returned a {type(out).__name__}, which a replay cannot rebuild")


def _template_slots(t):
    """The slots whose arrays a replay must return to rebuild the template ``t``."""
    if isinstance(t, (ReturnsTensor, ReturnsArray)):
        yield t.slot
    elif isinstance(t, (tuple, list)):
        for x in t:
            yield from _template_slots(x)
    elif isinstance(t, dict):
        for x in t.values():
            yield from _template_slots(x)


def _build(t, by_slot: dict[int, xp.ndarray], inputs: list):
    """The step's result from a replay's arrays: the template ``t`` with each reference filled."""
    match t:
        case ReturnsTensor(k):
            return constant(by_slot[k])
        case ReturnsArray(k):
            return by_slot[k]
        case ReturnsInput(k):
            return inputs[k]
        case ReturnsObject(obj):
            return obj
        case ReturnsValue(value):
            return value
        case tuple():
            return tuple(_build(x, by_slot, inputs) for x in t)
        case list():
            return [_build(x, by_slot, inputs) for x in t]
    return {k: _build(v, by_slot, inputs) for k, v in t.items()}
