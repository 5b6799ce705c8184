"""The benchmark suite: one training step per workload, chainrule (eager and ``cr.compile``d) vs
PyTorch (eager and ``torch.compile``d) on the CPU, time per step and peak memory, in one run.

Workloads (random data of the right shapes, fixed seeds: no dataset needed):
  nielsen:   [784, 30, 10] sigmoid network, quadratic cost, SGD lr 3.0, batch 10 (zoo recipe)
  mlp:       784-256-256-10 ReLU, cross-entropy, Adam lr 1e-3, batch 128 (zoo recipe)
  cnn:       the zoo ``cnn`` (two conv-BN-ReLU-maxpool blocks, dropout), Adam, batch 64
  captioner: the attention captioner step of bench_captioner.py (batch 64, 17 steps, clipping, Adam)
  ops:       bench_ops.py's chain of 1,000 tiny elementwise ops on 16 values, forward + backward
(their chainrule and PyTorch runs: ``suite_workloads.py``; the checks and the timing:
``suite_measure.py``; machine, ratios, table: ``suite_report.py``; the children that measure
memory and torch.compile, and ``main``: here)

Variants: chainrule eager; chainrule compiled (``cr.compile`` of the whole step: forward, loss,
``zero_grad``, ``backward``, ``step``; its recording calls are warm-up, every timed call must be a
replay); PyTorch eager; ``torch.compile`` of the model (the ops chain for ``ops``), the loss,
backward and optimiser staying eager; compiled and timed in a subprocess of its own with a time
limit (``--compile-timeout``): where it fails the table says n/a and the JSON keeps the error.

Checks before timing, per workload: chainrule and PyTorch give the same first-step loss from the
same weights (chainrule's, copied; dropout off for the check; relative tolerance 1e-4), and the
compiled step gives exactly (bitwise) the eager step's losses and parameters over four steps from
the same seed, two of them replays.

Threads: one per framework by default (``--threads``; 0 keeps what the process has): on cores
shared with other users, PyTorch's OpenMP threads stall small steps (a thread waiting for a busy
core at every parallel region; ``--threads 2 --workloads nielsen`` shows it); OpenBLAS threads
spin the same way.

Time: median (and min) wall-clock ms per step after warm-up steps; chainrule eager, compiled and
PyTorch eager take turns in rounds so that load from other processes hits them alike. For cnn and
captioner the GEMM floor takes its turns too: the step's matrix products alone, the same shapes in
NumPy (``gemm_floor.py``), so that the distance to what the arithmetic itself costs is visible. The number of
steps is chosen per variant for about 3 s of timed steps (``--quick``: a quarter), or ``--steps``.
torch.compile is timed in its own process, after its compile and warm-up steps.

Memory: each (workload, variant) in a fresh process (as bench_conv.py), VmHWM reset after setup
and again after warm-up: A = the peak RSS during the timed steps minus the RSS before them (MiB), and
B = the peak RSS of the warm-up and timed steps minus the RSS after setup, before the first step
(as bench_conv.py measures; it adds the optimiser state, cr.compile's recordings and memory the
allocator kept from them). Ratios are chainrule / PyTorch eager; the goal is <= 1.0 on each
workload. Differences under a few hundred KiB, even negative ones, are page-counting noise.

    .venv/bin/python benchmarks/suite.py [--steps N] [--quick] [--json FILE]
        [--workloads nielsen mlp cnn captioner ops] [--no-memory] [--no-torch-compile]
        [--compile-timeout S] [--threads N]

Prints a machine line and a table with the goals; writes everything to JSON (default
benchmarks/results/suite-<UTC date-time>.json) so that runs can be compared over time.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chainrule as cr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_conv import _reset_peak_rss, _status_mib
from suite_measure import (
    TARGET_S,
    check_against_torch,
    check_by_hand,
    check_compiled,
    rel_diff,
    replays,
    steps_for,
    summarize,
    time_interleaved,
    warm_up,
)
from suite_report import (
    MEMORY_GOAL,
    ROOT,
    TIME_GOALS,
    VARIANTS,
    apply_threads,
    fmt_ms,
    git,
    machine,
    machine_line,
    print_table,
    ratios,
)
from suite_workloads import (
    POOL,
    loss_value,
    make_run,
    make_workload,
    restore_dropout,
    set_dropout,
)

WORKLOADS = ("nielsen", "mlp", "cnn", "captioner", "ops")


# ----- one (workload, variant) in a fresh process: memory, and torch.compile's timing -----
def child(args) -> None:
    res: dict = {"variant": args.child, "workload": args.child_workload}
    try:
        work = make_workload(args.child_workload)
        if args.child.startswith("torch"):
            import torch  # noqa: F401  (imported before the baseline, as in the parent)
        res["rss_start_mib"] = _status_mib("VmRSS")
        t0 = time.perf_counter()
        run = make_run(work, args.child)
        res["rss_after_setup_mib"] = _status_mib("VmRSS")
        _reset_peak_rss()  # the peak of the warm-up too, as bench_conv.py measures
        if args.child == "torch_compile":
            # First step with dropout off: the loss to compare with chainrule's (this compiles),
            # then dropout back on (a second compile, where the model has dropout).
            old = set_dropout(run.model, 0.0) if run.model is not None else []
            res["first_step_loss"] = float(loss_value(run.step(0)))
            res["first_compile_s"] = time.perf_counter() - t0
            if any(old):
                restore_dropout(run.model, old)
            warm_up(run, args.warmup, 1)
            res["compile_and_warmup_s"] = time.perf_counter() - t0
        else:
            cr.manual_seed(7)
            warm_up(run, args.warmup)
        before_replays = replays(run)
        steps = args.steps
        if args.child == "torch_compile" and not steps:
            steps = steps_for(warm_up(run, 1, args.warmup + 1), args)
        warmup_peak = _status_mib("VmHWM")
        gc.collect()  # what the warm-up left in reference cycles is not part of a step
        _reset_peak_rss()
        rss0 = _status_mib("VmRSS")
        times = []
        for i in range(steps):
            t1 = time.perf_counter()
            run.step(args.warmup + 2 + i)
            times.append(time.perf_counter() - t1)
        peak = _status_mib("VmHWM")
        res.update(summarize(times))
        res["warmup_steps"] = args.warmup
        res["timed_in"] = "own process"
        if args.child == "torch_compile":
            res["compiled"] = (
                "torch.compile of the model (ops: the chain); loss, backward, optimiser eager"
            )
        res["memory"] = {
            "rss_before_mib": rss0,
            "peak_rss_mib": peak,
            "peak_increase_mib": peak - rss0,
            "peak_over_setup_mib": peak - res["rss_after_setup_mib"],
            "warmup_peak_rss_mib": warmup_peak,
            "run_peak_over_setup_mib": max(peak, warmup_peak) - res["rss_after_setup_mib"],
            "steps": steps,
        }
        if run.compiled is not None:
            res["timed_replays"] = replays(run) - before_replays
            res["compile_stats"] = run.compiled.stats()
    except Exception as e:  # reported to the parent on one line
        res["error"] = one_line(e)
    print(json.dumps(res))


def one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg[:500]}"


def run_child(workload: str, variant: str, steps: int, args, timeout: float) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--child-workload",
        workload,
        "--steps",
        str(steps),
        "--warmup",
        str(args.warmup),
    ]
    if args.quick:
        cmd.append("--quick")
    cmd += ["--threads", str(args.threads)]
    # A session of its own, so that a timeout ends the child and whatever it started (compile
    # workers) by the child's process-group id.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s (compile + warm-up + timed steps)"}
    lines = [ln for ln in stdout.strip().splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        return {"error": f"exit status {proc.returncode}: {tail[-1] if tail else 'no output'}"}
    return json.loads(lines[-1])


# ----- main -----
def bench_workload(name: str, args) -> dict:
    work = make_workload(name)
    res: dict = {"name": name, "description": work.description, "variants": {}}
    print(f"\n{name}: {work.description}", flush=True)
    try:
        res["check_torch"] = check_against_torch(work)
        print(
            f"  check: first-step loss chainrule {res['check_torch']['chainrule_losses'][0]:.6g} "
            f"vs PyTorch {res['check_torch']['torch_losses'][0]:.6g} (relative difference "
            f"{res['check_torch']['first_step_rel_diff']:.1e}; second step "
            f"{res['check_torch']['second_step_rel_diff']:.1e})",
            flush=True,
        )
    except Exception as e:
        res["error"] = one_line(e)
        print(f"  FAILED: {res['error']}")
        return res
    timed = ["cr_eager", "cr_compiled", "torch_eager"]
    hand = work.by_hand()
    if hand is not None:  # the floor: checked to take chainrule's steps, then timed with the rest
        res["check_by_hand"] = check_by_hand(work, hand, res["check_torch"]["chainrule_losses"])
        print(
            "  check: NumPy by hand = chainrule, first two losses (relative "
            f"{res['check_by_hand']['rel_diff']:.1e})"
        )
    try:
        res["check_compiled"] = check_compiled(work)
        print(
            "  check: compiled chainrule = eager chainrule, bitwise, over 4 steps"
            + (" (2 replays)" if res["check_compiled"]["replayed"] else " (NO REPLAY)"),
            flush=True,
        )
    except Exception as e:  # the compiled variant is n/a; the others are still timed
        res["variants"]["cr_compiled"] = {"error": one_line(e)}
        timed.remove("cr_compiled")
        print(f"  check FAILED, cr_compiled n/a: {one_line(e)}", flush=True)
    floor = ["gemm_floor"] * (work.gemm_floor() is not None)  # its GEMMs alone, timed alike
    extra = ["numpy_by_hand"] * bool(hand) + floor
    t0 = time.perf_counter()
    res["variants"].update(time_interleaved(work, timed + extra, args))
    for v in timed + extra:
        r = res["variants"][v]
        note = work.per_step_note(r["median_s"] * 1e3)
        if note:
            r["note"] = note
        print(
            f"  {v:<13} {fmt_ms(r):>8} ms/step (min {r['min_s'] * 1e3:.3g}, {r['steps']} steps) "
            f"{work.per_step_note(r['median_s'] * 1e3)}",
            flush=True,
        )
    res["timing_wall_s"] = time.perf_counter() - t0
    if args.no_torch_compile:
        res["variants"]["torch_compile"] = {"error": "skipped (--no-torch-compile)"}
    else:
        steps = args.steps or res["variants"]["torch_eager"]["steps"]
        tc = run_child(name, "torch_compile", steps, args, args.compile_timeout)
        if "error" not in tc:
            d = rel_diff(tc["first_step_loss"], res["check_torch"]["chainrule_losses"][0])
            tc["first_step_rel_diff_vs_chainrule"] = d
            if d > 1e-4:
                tc["error"] = (
                    f"first-step loss {tc['first_step_loss']!r} differs from chainrule's by {d:.2e}"
                )
        if "error" in tc:  # n/a in the table; the JSON keeps whatever it measured
            tc = {"error": tc["error"], "partial": {k: x for k, x in tc.items() if k != "error"}}
            print(f"  torch_compile n/a: {tc['error']}", flush=True)
        else:
            print(
                f"  torch_compile {fmt_ms(tc):>8} ms/step (min {tc['min_s'] * 1e3:.3g}, "
                f"{tc['steps']} steps; compile + warm-up {tc['compile_and_warmup_s']:.0f} s)",
                flush=True,
            )
            if args.no_memory:
                tc.pop("memory", None)
        res["variants"]["torch_compile"] = tc
    if not args.no_memory:
        for v in timed:
            steps = min(res["variants"][v]["steps"], 10 if args.quick else 40)
            m = run_child(name, v, max(steps, 3), args, args.compile_timeout)
            if "error" in m:
                res["variants"][v]["memory_error"] = m["error"]
                print(f"  memory {v}: failed: {m['error']}", flush=True)
            else:
                res["variants"][v]["memory"] = m["memory"]
                res["variants"][v]["memory_child"] = {
                    k: m[k]
                    for k in ("median_s", "min_s", "steps", "rss_start_mib", "rss_after_setup_mib")
                    if k in m
                }
                print(
                    f"  memory {v:<13} {m['memory']['peak_increase_mib']:7.1f} MiB peak increase "
                    f"in the timed steps, {m['memory']['run_peak_over_setup_mib']:7.1f} MiB "
                    "peak over setup",
                    flush=True,
                )
    res["ratios"] = ratios(res)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, help="timed steps per variant (default: about 3 s each)")
    p.add_argument("--quick", action="store_true", help="about 4x faster: fewer timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (at least 3)")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--no-torch-compile", action="store_true", help="skip torch.compile")
    p.add_argument(
        "--compile-timeout",
        type=float,
        default=600,
        help="seconds allowed to each torch.compile subprocess (default 600)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for each framework (default 1; 0: as the process has)",
    )
    p.add_argument("--json", help="results file (default benchmarks/results/suite-<UTC>.json)")
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    p.add_argument("--child-workload", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.warmup = max(args.warmup, 3)
    apply_threads(args.threads, torch_too=not (args.child or "").startswith("cr_"))
    if args.child:
        child(args)
        return

    started = datetime.datetime.now(datetime.UTC)
    info = machine()
    commit = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "chainrule"))
    print(machine_line(info))
    print(
        f"chainrule {commit}{' (chainrule/ has uncommitted changes)' if dirty else ''}; "
        f"{'quick, ' if args.quick else ''}warm-up {args.warmup} steps"
    )
    results = {name: bench_workload(name, args) for name in args.workloads}
    info["load_average_at_end"] = list(os.getloadavg())
    print()
    print(machine_line(info))
    print_table(results)

    doc = {
        "suite": "benchmarks/suite.py",
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "chainrule_dirty": dirty,
        "machine": info,
        "settings": {
            "steps": args.steps,
            "quick": args.quick,
            "warmup": args.warmup,
            "target_s_per_variant": TARGET_S / 4 if args.quick else TARGET_S,
            "memory": not args.no_memory,
            "torch_compile": not args.no_torch_compile,
            "compile_timeout_s": args.compile_timeout,
            "batch_pool": POOL,
            "threads": args.threads or "as the process has",
        },
        "goals": {
            "time_compiled_over_torch_eager": TIME_GOALS,
            "memory_over_torch_eager": MEMORY_GOAL,
        },
        "workloads": results,
    }
    path = (
        Path(args.json)
        if args.json
        else (ROOT / "benchmarks" / "results" / f"suite-{started.strftime('%Y%m%dT%H%M%SZ')}.json")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
