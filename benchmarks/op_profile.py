"""Where a step's time goes, by op: cProfile's rows for each op's ``forward`` and ``vjp``, named
``Class.method`` (shared by bench_conv.py and bench_rnn.py)."""

from __future__ import annotations

import cProfile
import inspect
import pstats
import sys
from collections.abc import Callable

from chainrule.ops.base import Op


def op_methods() -> dict[tuple[str, int], str]:
    """(file, first line) of the ``forward`` and ``vjp`` of every op class in the loaded
    ``chainrule.ops`` modules → "Class.method": the key cProfile gives each function."""
    names = {}
    for mod in list(sys.modules.values()):
        if not getattr(mod, "__name__", "").startswith("chainrule.ops"):
            continue
        for cls_name, cls in inspect.getmembers(mod, inspect.isclass):
            if not issubclass(cls, Op):
                continue
            for meth in ("forward", "vjp"):
                fn = cls.__dict__.get(meth)
                if fn is not None:
                    code = fn.__code__
                    names[(code.co_filename, code.co_firstlineno)] = f"{cls_name}.{meth}"
    return names


def profile_ops(
    step: Callable[[], object], steps: int, top: int, timer: Callable[[], float] | None = None
) -> list[tuple[str, int, float]]:
    """Runs ``step`` ``steps`` times under cProfile (with ``timer``, e.g. ``time.thread_time``
    for CPU time, else wall time). Returns (op method, calls per step, ms per step) of the
    ``top`` costliest ops by cumulative time, after a first row for the whole step."""

    def whole() -> None:
        for _ in range(steps):
            step()

    prof = cProfile.Profile(timer) if timer is not None else cProfile.Profile()
    prof.runcall(whole)
    stats = pstats.Stats(prof).stats
    names = op_methods()
    key = (whole.__code__.co_filename, whole.__code__.co_firstlineno)
    rows, total = [], 0.0
    for (file, line, _), (_, ncalls, _, cumtime, _) in stats.items():
        if (file, line) == key:
            total = cumtime
        name = names.get((file, line))
        if name:
            rows.append((name, ncalls // steps, cumtime / steps * 1e3))
    rows.sort(key=lambda r: -r[2])
    return [("whole step (under the profiler)", 1, total / steps * 1e3), *rows[:top]]
