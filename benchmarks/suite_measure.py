"""The suite's checks before timing (chainrule against PyTorch, compiled against eager, the
hand-written floor against chainrule) and its timing of the variants in interleaved rounds."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
from suite_workloads import Run, Workload, loss_value, make_run, set_dropout

import chainrule as cr

TARGET_S = 3.0  # timed seconds per variant (--quick: a quarter)


# ----- checks -----
def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def check_against_torch(work: Workload) -> dict:
    """The first (and, for information, second) step's loss of chainrule and PyTorch from the
    same weights, dropout off."""
    ours, theirs = work.chainrule(compiled=False), work.torch(compiled=False)
    if ours.model is not None:
        set_dropout(ours.model, 0.0)
        set_dropout(theirs.model, 0.0)
    losses = {
        k: [float(loss_value(r.step(i))) for i in range(2)]
        for k, r in (("chainrule", ours), ("torch", theirs))
    }
    d1 = rel_diff(losses["chainrule"][0], losses["torch"][0])
    d2 = rel_diff(losses["chainrule"][1], losses["torch"][1])
    res = {
        "chainrule_losses": losses["chainrule"],
        "torch_losses": losses["torch"],
        "first_step_rel_diff": d1,
        "second_step_rel_diff": d2,
        "ok": d1 <= 1e-4,
    }
    if not res["ok"]:
        raise AssertionError(
            f"{work.name}: first-step loss chainrule {losses['chainrule'][0]!r} vs PyTorch "
            f"{losses['torch'][0]!r} (relative difference {d1:.2e} > 1e-4)"
        )
    return res


def check_compiled(work: Workload, steps: int = 4) -> dict:
    """Eager and compiled chainrule from the same seed on the same batches: bitwise equal losses
    and final parameters (steps 3 and 4 are replays)."""
    runs = {}
    losses = {}
    for variant in ("cr_eager", "cr_compiled"):
        run = make_run(work, variant)
        cr.manual_seed(123)  # the same dropout masks for both
        losses[variant] = [loss_value(run.step(i)) for i in range(steps)]
        runs[variant] = run
    stats = runs["cr_compiled"].compiled.stats()
    replayed = stats["replays"] >= steps - 2
    same_loss = all(np.array_equal(a, b) for a, b in zip(losses["cr_eager"], losses["cr_compiled"]))
    if hasattr(runs["cr_eager"], "grads"):
        pa, pb = runs["cr_eager"].grads(), runs["cr_compiled"].grads()
    else:
        pa = [np.array(p.data) for p in runs["cr_eager"].params]
        pb = [np.array(p.data) for p in runs["cr_compiled"].params]
    same_params = len(pa) == len(pb) and all(np.array_equal(a, b) for a, b in zip(pa, pb))
    res = {
        "steps": steps,
        "losses_bitwise_equal": same_loss,
        "params_bitwise_equal": same_params,
        "eager_losses": [float(v) for v in losses["cr_eager"]],
        "compiled_losses": [float(v) for v in losses["cr_compiled"]],
        "compile_stats": stats,
        "replayed": replayed,
    }
    if not replayed:  # not an error of the check: the timing reports the fallback
        why = [str(p.get("eager_because")) for p in stats["signatures"] if not p["replay"]]
        res["fallback"] = f"cr.compile did not replay: {'; '.join(why) or stats}"
    if not (same_loss and same_params):
        raise AssertionError(
            f"{work.name}: compiled chainrule differs from eager: losses equal {same_loss}, "
            f"parameters equal {same_params}; losses {res['eager_losses']} vs "
            f"{res['compiled_losses']}"
        )
    return res


def check_by_hand(work: Workload, hand: Run, chainrule_losses: list[float]) -> dict:
    """The workload's step written by hand takes chainrule's steps: its first two losses agree
    with chainrule's (relative 1e-4), from the same weights and batches."""
    got = [float(hand.step(i)) for i in range(2)]
    d = max(rel_diff(a, b) for a, b in zip(got, chainrule_losses))
    if d > 1e-4:
        raise AssertionError(
            f"{work.name}: NumPy by hand lost {got}, chainrule {chainrule_losses} (relative {d:.1e})"
        )
    return {"losses": got, "chainrule_losses": chainrule_losses, "rel_diff": d}


# ----- timing -----
def summarize(times_s: list[float]) -> dict:
    q = np.quantile(times_s, [0.1, 0.9]) if times_s else (math.nan, math.nan)
    return {
        "median_s": statistics.median(times_s),
        "min_s": min(times_s),
        "p10_s": float(q[0]),
        "p90_s": float(q[1]),
        "mean_s": statistics.fmean(times_s),
        "steps": len(times_s),
    }


def warm_up(run: Run, n: int, start: int = 0) -> float:
    """n untimed steps; returns the seconds of the last one (a first estimate of a step)."""
    dt = math.nan
    for i in range(start, start + n):
        t0 = time.perf_counter()
        run.step(i)
        dt = time.perf_counter() - t0
    return dt


def steps_for(est_s: float, args) -> int:
    if args.steps:
        return args.steps
    target = TARGET_S / 4 if args.quick else TARGET_S
    return int(min(max(round(target / max(est_s, 1e-7)), 10), 50_000))


def replays(run: Run) -> int:
    return run.compiled.stats()["replays"] if run.compiled is not None else 0


def time_interleaved(work: Workload, variants: list[str], args) -> dict:
    runs = {v: make_run(work, v) for v in variants}
    est = {}
    for v, run in runs.items():
        cr.manual_seed(7)
        warm_up(run, args.warmup)
        # a few more warm-up steps, the median of which sets the number of timed steps
        est[v] = statistics.median(
            [warm_up(run, 1, args.warmup + k) for k in range(3 if not args.steps else 1)]
        )
    n = {v: steps_for(est[v], args) for v in variants}
    rounds = min(5, min(n.values()))
    times: dict[str, list[float]] = {v: [] for v in variants}
    before = {v: replays(r) for v, r in runs.items()}
    i0 = args.warmup + 3
    for r in range(rounds):
        for v, run in runs.items():
            k = n[v] * (r + 1) // rounds - n[v] * r // rounds
            t = times[v]
            for _ in range(k):
                i = i0 + len(t)
                t0 = time.perf_counter()
                run.step(i)
                t.append(time.perf_counter() - t0)
    out = {}
    for v, run in runs.items():
        res = summarize(times[v])
        res["warmup_steps"] = args.warmup + (3 if not args.steps else 1)
        res["timed_in"] = "main process, interleaved rounds"
        if run.compiled is not None:
            stats = run.compiled.stats()
            res["compile_stats"] = stats
            replayed = stats["replays"] - before[v]
            res["timed_replays"] = replayed
            if replayed != len(times[v]):
                why = [s.get("eager_because") for s in stats["signatures"] if not s["replay"]]
                res["fallback"] = (
                    f"only {replayed} of {len(times[v])} timed calls replayed; eager because: "
                    f"{'; '.join(str(w) for w in why) or 'unknown'}"
                )
        out[v] = res
    return out
