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
import functools
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from chainrule.autograd.grad_mode import state
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.jit.recording import _difference, _name, _Recording, _same
from chainrule.jit.replay import _Tape, _template, _Unsupported

__all__ = ["CompiledStep", "CompileWarning", "compile"]


class CompileWarning(UserWarning):
    """A compiled step fell back to eager execution (the message says why)."""


# ----- the user-facing wrapper -----
class _Plan:
    __slots__ = ("fallback", "guards", "pending", "tape")

    def __init__(self):
        self.pending: _Recording | None = None
        self.tape: _Tape | None = None
        self.guards: Callable[[], bool] = _no_guards
        self.fallback: str | None = None


class CompiledStep:
    """A step function that is recorded on its first calls and replayed afterwards.

    Call it like the function it wraps. ``stats()`` says what happened: how many calls were
    replayed, recorded or run eagerly, and for each input signature the size of its replay.
    """

    def __init__(self, fn: Callable, cache_size: int = 8, warmup: int = 2):
        if not callable(fn):
            raise TypeError(f"compile: expected the step function, got {type(fn).__name__}")
        if cache_size < 1:
            raise ValueError(f"compile: cache_size must be at least 1, got {cache_size}")
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
            if not kwargs and all(type(a) is xp.ndarray for a in args):
                flat = list(args)  # the common case, a batch of arrays: a cheaper key
                key = (tuple([(a.shape, a.dtype) for a in args]), state.grad_enabled)
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
            if plan.guards():
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
        prev = None  # compared: only the newer recording is needed to make the replay
        if recorded >= self.warmup:
            plan.pending = None
            plan.guards = _guard_check(_guards(rec))
            plan.tape = _Tape(rec, template, len(flat))  # (which empties the recording)
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
        return ("T", x._data.shape, x._data.dtype.str, x.requires_grad)
    if isinstance(x, xp.ndarray):
        flat.append(x)
        return ("A", x.shape, x.dtype.str)
    if isinstance(x, (tuple, list)):
        return (type(x).__name__, tuple(_signature(v, flat) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _signature(v, flat)) for k, v in sorted(x.items())))
    if x is None or isinstance(x, (bool, int, float, str, xp.generic)):
        return ("V", type(x).__name__, x)
    return ("O", id(x))  # a model or an optimiser passed in: the same object replays


def _guards(rec: _Recording) -> list:
    g = [(m, "training", flag) for m, flag in rec.guards.values()]
    for t in rec.externals:
        if t.requires_grad:  # a parameter: frozen since, or converted with .to(dtype)?
            g += [(t, "requires_grad", True), (t, "dtype", t.dtype)]
    return g


def _guards_hold(guards: list) -> bool:
    for obj, attr, value in guards:
        if getattr(obj, attr) != value:
            return False
    return True


def _no_guards() -> bool:
    return True


def _guard_check(guards: list) -> Callable[[], bool]:
    """One function that says whether every guard ``(obj, attr, value)`` still holds, written
    as straight-line Python: a replay checks it at every call (a loop over the list with
    ``getattr`` cost as much as a small step's bookkeeping)."""
    if not guards:
        return _no_guards
    if len(guards) > 1000:  # (a model with thousands of parameters: a loop, not a huge line)
        return functools.partial(_guards_hold, guards)
    names = {"o": tuple(g[0] for g in guards), "v": tuple(g[2] for g in guards)}
    tests = " or ".join(f"o[{i}].{attr} != v[{i}]" for i, (_, attr, _) in enumerate(guards))
    src = f"def check():\n    return not ({tests})\n"
    exec(builtins.compile(src, "<cr.compile guards>", "exec"), names)  # (compile: ours, below)
    return names["check"]


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
