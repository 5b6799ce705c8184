"""The report of ``benchmarks/suite.py``: threads, the machine, the ratios and the printed table."""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

VARIANTS = ("cr_eager", "cr_compiled", "torch_eager", "torch_compile")
TIME_GOALS = {"nielsen": 0.25, "mlp": 0.9, "captioner": 0.8, "cnn": 1.3}  # compiled / torch eager
MEMORY_GOAL = 1.0  # peak-memory ratio chainrule / PyTorch eager
ROOT = Path(__file__).resolve().parent.parent


# ----- threads, machine and repository -----
def apply_threads(n: int, torch_too: bool = True) -> None:
    """n threads for NumPy's BLAS and PyTorch, in this process and the ones it starts."""
    if n <= 0:
        return
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)  # children read these when their libraries load
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)  # this process's BLAS, already loaded with NumPy
    except ImportError:
        print("note: threadpoolctl is missing; NumPy's BLAS threads here are not limited")
    if torch_too and importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(n)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        info["blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        info["blas_threads"] = [p["num_threads"] for p in pools]
        # The kernels each BLAS chose for this CPU (OpenBLAS: its core type, which the
        # environment's OPENBLAS_CORETYPE can force to an older one): they set the GEMM speed.
        info["blas_kernels"] = [f"{p['internal_api']} {p.get('architecture')}" for p in pools]
    except ImportError:
        info["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = "not installed"
    return info


def machine_line(m: dict) -> str:
    return (
        f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"Python {m['python']}, numpy {m['numpy']} ({m['blas']}, BLAS threads "
        f"{m['blas_threads']}), torch {m.get('torch')} ({m.get('torch_threads')} threads), "
        f"load average {m['load_average_at_start'][0]:.2f}"
    )


def git(*cmd: str) -> str:
    try:
        return subprocess.run(
            ["git", *cmd], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ----- the table -----
def fmt_ms(v: dict | None) -> str:
    if not v or "median_s" not in v:
        return "n/a"
    ms = v["median_s"] * 1e3
    s = (
        f"{ms:.0f}"
        if ms >= 100
        else f"{ms:.1f}"
        if ms >= 10
        else f"{ms:.2f}"
        if ms >= 1
        else f"{ms:.3f}"
    )
    return s + ("*" if v.get("fallback") else "")


def fmt_ratio(x) -> str:
    if x is None:
        return "n/a"
    if x == "small":
        return "<1MiB"
    return "inf" if math.isinf(x) else f"{x:.2f}"


def goal_text(x, goal) -> str:
    if goal is None:
        return "-"
    if x is None:
        return f"<={goal:g} n/a"
    return f"<={goal:g} {'met' if x == 'small' or x <= goal else 'MISSED'}"


SMALL_MIB = 1.0  # memory figures below this on both sides: "small", the goal counts as met


def mem_ratio(a, b):
    """a / b for memory figures; "small" when both are below SMALL_MIB (page-level noise)."""
    if a is None or b is None:
        return None
    a, b = max(a, 0.0), max(b, 0.0)  # a negative difference is page-counting noise
    if max(a, b) < SMALL_MIB:
        return "small"
    return a / b if b > 0 else math.inf


MEMORY_FIGURES = {"timed": "peak_increase_mib", "run": "run_peak_over_setup_mib"}


def ratios(res: dict) -> dict:
    v = res["variants"]

    def med(name):
        return (v.get(name) or {}).get("median_s")

    def mem(name, fig):
        return ((v.get(name) or {}).get("memory") or {}).get(MEMORY_FIGURES[fig])

    def div(a, b):
        return None if a is None or b is None or b <= 0 else a / b

    t = med("torch_eager")
    out = {
        "eager_over_torch": div(med("cr_eager"), t),
        "compiled_over_torch": div(med("cr_compiled"), t),
        "compiled_over_torch_compile": div(med("cr_compiled"), med("torch_compile")),
    }
    for fig in MEMORY_FIGURES:
        for k in ("eager", "compiled"):
            out[f"memory_{fig}_{k}_over_torch"] = mem_ratio(
                mem(f"cr_{k}", fig), mem("torch_eager", fig)
            )
    if "numpy_by_hand" in v:
        out["by_hand_over_torch"] = div(med("numpy_by_hand"), t)
        out["compiled_over_by_hand"] = div(med("cr_compiled"), med("numpy_by_hand"))
    if "gemm_floor" in v:
        out["gemm_floor_over_torch"] = div(med("gemm_floor"), t)
        out["eager_over_gemm_floor"] = div(med("cr_eager"), med("gemm_floor"))
        out["compiled_over_gemm_floor"] = div(med("cr_compiled"), med("gemm_floor"))
    goal = TIME_GOALS.get(res["name"])
    c = out["compiled_over_torch"]
    out["goals"] = {
        "time_compiled_over_torch": goal,
        "time_met": None if goal is None or c is None else c <= goal,
        "memory": MEMORY_GOAL,
    }
    for key, x in list(out.items()):
        if key.startswith("memory_"):
            out["goals"][key + "_met"] = None if x is None else x == "small" or x <= MEMORY_GOAL
    return out


def print_table(results: dict) -> None:
    head = (
        "workload",
        "cr eager",
        "cr compiled",
        "torch eager",
        "torch.compile",
        "eager/torch",
        "compiled/torch",
        "goal",
        "|| memory MiB: cr eager",
        "cr compiled",
        "torch eager",
        "torch.compile",
        "eager/torch",
        "compiled/torch",
        "goal",
    )
    rows = []
    notes = []
    for name, res in results.items():
        if res.get("error"):
            rows.append((name, "failed") + ("",) * (len(head) - 2))
            notes.append(f"{name}: {res['error']}")
            continue
        v, r = res["variants"], res["ratios"]

        def mem(k, v=v):
            m = (v.get(k) or {}).get("memory")
            return "n/a" if not m else "/".join(f"{m[f]:.1f}" for f in MEMORY_FIGURES.values())

        def mr(k, r=r):
            if mem("torch_eager") == "n/a":
                return "n/a"
            return "/".join(fmt_ratio(r[f"memory_{f}_{k}_over_torch"]) for f in MEMORY_FIGURES)

        goals = "/".join(
            goal_text(r[f"memory_{f}_compiled_over_torch"], MEMORY_GOAL).split()[-1]
            for f in MEMORY_FIGURES
        )
        rows.append(
            (
                name,
                fmt_ms(v.get("cr_eager")),
                fmt_ms(v.get("cr_compiled")),
                fmt_ms(v.get("torch_eager")),
                fmt_ms(v.get("torch_compile")),
                fmt_ratio(r["eager_over_torch"]),
                fmt_ratio(r["compiled_over_torch"]),
                goal_text(r["compiled_over_torch"], TIME_GOALS.get(name)),
                "|| " + mem("cr_eager"),
                mem("cr_compiled"),
                mem("torch_eager"),
                mem("torch_compile"),
                mr("eager"),
                mr("compiled"),
                f"<={MEMORY_GOAL:g} {goals}" if mem("torch_eager") != "n/a" else "-",
            )
        )
        if r.get("by_hand_over_torch") is not None:
            notes.append(
                f"{name}: the same step by hand in NumPy {fmt_ms(v['numpy_by_hand'])} ms = "
                f"{fmt_ratio(r['by_hand_over_torch'])} of PyTorch eager (the floor); chainrule "
                f"compiled is {fmt_ratio(r['compiled_over_by_hand'])}x that"
            )
        if r.get("gemm_floor_over_torch") is not None:
            notes.append(
                f"{name}: its GEMMs alone in NumPy {fmt_ms(v['gemm_floor'])} ms = "
                f"{fmt_ratio(r['gemm_floor_over_torch'])} of PyTorch eager (the GEMM floor); "
                f"chainrule eager is {fmt_ratio(r['eager_over_gemm_floor'])}x that, compiled "
                f"{fmt_ratio(r['compiled_over_gemm_floor'])}x"
            )
        for k, x in v.items():
            if x and x.get("fallback"):
                notes.append(f"{name} {k} (*): {x['fallback']}")
            if x and x.get("error"):
                notes.append(f"{name} {k}: n/a, {x['error']}")
            if x and x.get("memory_error"):
                notes.append(f"{name} {k} memory: n/a, {x['memory_error']}")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(
        "time: median ms per step, ratios of medians.  memory (a fresh process per cell): A/B, "
        "A = peak RSS during the timed steps minus the RSS before them (after warm-up), B = peak "
        "RSS of warm-up and timed steps minus the RSS after setup, before the first step (as "
        "bench_conv.py; adds optimiser state, cr.compile's recordings, torch.compile's "
        "compilation, memory the allocator kept)"
    )
    for r in [head, *rows]:
        print(
            "  ".join(
                str(c).ljust(w) if i in (0, 7, 14) else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(r, widths))
            ).rstrip()
        )
    print(
        "goals: time ratio chainrule compiled / PyTorch eager as in the goal column; memory "
        f"ratio chainrule compiled / PyTorch eager <= {MEMORY_GOAL:g} (A/B; <1MiB: both sides "
        "below 1 MiB, counted as met)"
    )
    for n in notes:
        print("  " + n)
