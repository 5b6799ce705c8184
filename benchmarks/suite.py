"""The benchmark suite: one training step per workload, chainrule (eager and ``cr.compile``d) vs
PyTorch (eager and ``torch.compile``d) on the CPU, time per step and peak memory, in one run.

Workloads (random data of the right shapes, fixed seeds: no dataset needed):
  nielsen:   [784, 30, 10] sigmoid network, quadratic cost, SGD lr 3.0, batch 10 (zoo recipe)
  mlp:       784-256-256-10 ReLU, cross-entropy, Adam lr 1e-3, batch 128 (zoo recipe)
  cnn:       the zoo ``cnn`` (two conv-BN-ReLU-maxpool blocks, dropout), Adam, batch 64
  captioner: the attention captioner step of bench_captioner.py (batch 64, 17 steps, clipping, Adam)
  ops:       bench_ops.py's chain of 1,000 tiny elementwise ops on 16 values, forward + backward

Variants: chainrule eager; chainrule compiled (``cr.compile`` of the whole step: forward, loss,
``zero_grad``, ``backward``, ``step``; its recording calls are warm-up, every timed call must be a
replay); PyTorch eager; ``torch.compile`` of the model (the ops chain for ``ops``), the loss,
backward and optimiser staying eager; compiled and timed in a subprocess of its own with a time
limit (``--compile-timeout``): where it fails the table says n/a and the JSON keeps the error.

Checks before timing, per workload: chainrule and PyTorch give the same first-step loss from the
same weights (chainrule's, copied; dropout off for the check; relative tolerance 1e-4), and the
compiled step gives exactly (bitwise) the eager step's losses and parameters over four steps from
the same seed, two of them replays.

Threads: one per framework by default (``--threads``; 0 keeps what the process has): the machine
this suite was written on has 2 cores shared with other users, and there PyTorch's 2 OpenMP
threads took 55-75 ms for a nielsen step that takes 0.2 ms with one (a thread waiting for a busy
core at every parallel region); OpenBLAS threads spin the same way.

Time: median (and min) wall-clock ms per step after warm-up steps; chainrule eager, compiled and
PyTorch eager take turns in rounds so that load from other processes hits them alike. The number of
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
import importlib.util
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import chainrule as cr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_captioner
import bench_conv
import bench_ops
from bench_conv import _reset_peak_rss, _status_mib

from chainrule.models import get_recipe
from chainrule.training.optimizers import make_optimizer

WORKLOADS = ("nielsen", "mlp", "cnn", "captioner", "ops")
VARIANTS = ("cr_eager", "cr_compiled", "torch_eager", "torch_compile")
TIME_GOALS = {"nielsen": 0.25, "mlp": 0.9, "captioner": 0.8, "cnn": 1.3}  # compiled / torch eager
MEMORY_GOAL = 1.0  # peak-memory ratio chainrule / PyTorch eager
TARGET_S = 3.0  # timed seconds per variant (--quick: a quarter)
POOL = 4  # distinct random batches, cycled
OPS = 1000  # ops in the chain of the ``ops`` workload
ROOT = Path(__file__).resolve().parent.parent


# ----- workloads: each makes chainrule and PyTorch runs from the same weights -----
class Run:
    """One variant of one workload: ``step(i)`` takes a step on batch ``i % POOL`` and returns the
    loss (a chainrule Tensor, a torch tensor or a float); ``compiled`` is the ``CompiledStep``."""

    def __init__(self, step: Callable[[int], object], model=None, compiled=None, params=()):
        self.step = step
        self.model = model
        self.compiled = compiled
        self.params = list(params)  # chainrule Tensors whose values the exactness check compares


def _loss_value(loss) -> np.ndarray:
    if isinstance(loss, cr.Tensor):
        return np.array(loss.data, copy=True)
    if hasattr(loss, "detach"):
        return loss.detach().numpy().copy()
    return np.asarray(loss)


def _copy_weights(cr_model, tmodel) -> None:
    """chainrule's parameters and buffers into the PyTorch model: by name where the names agree,
    else in order (the same layers in the same order), shapes checked either way."""
    import torch

    src = {k: np.array(v.data) for k, v in cr_model.state_dict().items()}
    dst = tmodel.state_dict()
    if set(src) == set(dst):
        pairs = [(k, src[k]) for k in dst]
    else:
        assert len(src) == len(dst), f"{len(src)} chainrule tensors, {len(dst)} in PyTorch"
        pairs = list(zip(dst, src.values()))
    new = {}
    for k, a in pairs:
        assert tuple(dst[k].shape) == a.shape, (k, dst[k].shape, a.shape)
        new[k] = torch.from_numpy(np.ascontiguousarray(a)).to(dst[k].dtype)
    tmodel.load_state_dict(new, strict=True)


def set_dropout(model, p: float) -> list[float]:
    """Sets every dropout module's p (chainrule or PyTorch); returns the old values, in order."""
    old = []
    for m in model.modules():
        if type(m).__name__ == "Dropout":
            old.append(m.p)
            m.p = p
    return old


def restore_dropout(model, ps: list[float]) -> None:
    mods = [m for m in model.modules() if type(m).__name__ == "Dropout"]
    for m, p in zip(mods, ps):
        m.p = p


class Workload:
    name = ""
    description = ""
    has_dropout = False

    def batches(self) -> list[tuple[np.ndarray, ...]]:
        raise NotImplementedError

    def chainrule(self, compiled: bool) -> Run:
        raise NotImplementedError

    def torch(self, compiled: bool) -> Run:
        raise NotImplementedError

    def per_step_note(self, ms: float) -> str:
        return ""


class RecipeWorkload(Workload):
    """A zoo recipe (nielsen, mlp, cnn) at its batch size, on random images and labels."""

    def __init__(self, name: str):
        self.name = name
        self.recipe = get_recipe(name)
        self.batch = self.recipe.batch_size
        self.has_dropout = name == "cnn"
        self.description = (
            f"{self.recipe.description}; one step at batch {self.batch} "
            f"(optimiser {self.recipe.optimizer}, lr {self.recipe.lr}, no schedule)"
        )
        self._batches = None

    def batches(self):
        if self._batches is None:
            if self.name == "cnn":
                x, y = bench_conv.batch(self.batch)  # seed 0, as bench_conv.py
                rng = np.random.default_rng(1)
                out = [(x, y)]
                for _ in range(POOL - 1):
                    out.append(
                        (
                            rng.random(x.shape, dtype=np.float32),
                            rng.integers(0, 10, self.batch),
                        )
                    )
            else:
                rng = np.random.default_rng(0)
                out = [
                    (
                        rng.random((self.batch, 784), dtype=np.float32),
                        rng.integers(0, 10, self.batch),
                    )
                    for _ in range(POOL)
                ]
            self._batches = out
        return self._batches

    def _cr_model(self):
        cr.manual_seed(0)
        return self.recipe.build((1, 28, 28), 10)

    def chainrule(self, compiled: bool) -> Run:
        model = self._cr_model()
        opt = make_optimizer(self.recipe.optimizer, model.parameters(), self.recipe.lr)
        loss_fn = self.recipe.loss

        def step_fn(x, y):
            loss = loss_fn(model(cr.from_numpy(x)), cr.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = cr.compile(step_fn) if compiled else step_fn
        data = self.batches()
        return Run(
            lambda i: fn(*data[i % POOL]),
            model,
            fn if compiled else None,
            list(model.parameters()) + list(model.buffers()),
        )

    def _torch_model(self):
        import torch

        nn = torch.nn
        if self.name == "nielsen":
            return nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
        if self.name == "mlp":
            return nn.Sequential(
                nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
            )
        return bench_conv.build(nn)

    def torch(self, compiled: bool) -> Run:
        import torch

        tm = self._torch_model()
        _copy_weights(self._cr_model(), tm)
        if self.recipe.optimizer == "sgd":
            opt = torch.optim.SGD(tm.parameters(), lr=self.recipe.lr)
        else:
            opt = torch.optim.Adam(tm.parameters(), lr=self.recipe.lr)
        if self.name == "nielsen":
            eye = torch.eye(10)

            def loss_fn(out, yb):  # the quadratic cost of bench_training.py
                return 0.5 * ((out - eye[yb]) ** 2).sum() / len(yb)
        else:
            loss_fn = torch.nn.functional.cross_entropy
        fwd = torch.compile(tm) if compiled else tm
        data = [tuple(torch.from_numpy(a) for a in b) for b in self.batches()]

        def step(i):
            x, y = data[i % POOL]
            loss = loss_fn(fwd(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return Run(step, tm)


class CaptionerWorkload(Workload):
    name = "captioner"
    has_dropout = True

    def __init__(self):
        from chainrule.datasets.fashion_scenes import scene_vocabulary
        from chainrule.models.captioner import CaptionerConfig

        self.config = CaptionerConfig(vocab_size=len(scene_vocabulary()))
        self.description = (
            f"attention captioner (bench_captioner.py), batch {bench_captioner.N}, "
            f"{bench_captioner.T} steps, vocab {self.config.vocab_size}; forward, masked "
            "cross-entropy + attention regulariser, backward, clip_grad_norm 5, Adam 1e-3"
        )
        self._batches = None

    def batches(self):
        if self._batches is None:
            v = self.config.vocab_size
            self._batches = [bench_captioner.make_batch(v, seed) for seed in range(POOL)]
        return self._batches

    def _cr_model(self):
        from chainrule.models.captioner import Captioner

        cr.manual_seed(0)
        return Captioner(self.config)

    def chainrule(self, compiled: bool) -> Run:
        from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
        from chainrule.nn.utils import clip_grad_norm_

        model = self._cr_model()
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)

        # bench_captioner.chainrule_step, returning the loss Tensor instead of a float (a float
        # computed inside a compiled step would be a constant of the recording).
        def step_fn(images, inputs, targets):
            logits, alphas = model(cr.from_numpy(images), cr.from_numpy(inputs))
            loss = sequence_cross_entropy(logits, targets)
            loss = loss + 1.0 * attention_regularizer(alphas, targets)
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            return loss

        fn = cr.compile(step_fn) if compiled else step_fn
        data = self.batches()
        return Run(
            lambda i: fn(*data[i % POOL]),
            model,
            fn if compiled else None,
            list(model.parameters()) + list(model.buffers()),
        )

    def torch(self, compiled: bool) -> Run:
        import torch

        tm = bench_captioner.torch_model(self.config)
        _copy_weights(self._cr_model(), tm)
        opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        fwd = torch.compile(tm) if compiled else tm
        data = [tuple(torch.from_numpy(a) for a in b) for b in self.batches()]
        return Run(lambda i: bench_captioner.torch_step(fwd, opt, *data[i % POOL]), tm)


class OpsWorkload(Workload):
    name = "ops"

    def __init__(self, n_ops: int = OPS):
        self.n_ops = n_ops
        self.description = (
            f"bench_ops.py: a chain of {n_ops} elementwise ops (mul by scalar, add, tanh, mul) on "
            "16 float32 values, forward + backward (no optimiser)"
        )
        self.data = np.random.default_rng(0).normal(size=16).astype(np.float32)

    def batches(self):
        return [(self.data,)]

    def chainrule(self, compiled: bool) -> Run:
        x = cr.tensor(self.data, requires_grad=True)
        w = cr.tensor(np.full_like(self.data, 0.5), requires_grad=True)
        n = self.n_ops

        def step_fn(x, w):
            loss = bench_ops.chain(x, w, n)
            loss.backward()
            return loss

        fn = cr.compile(step_fn) if compiled else step_fn

        def step(i):
            x.grad = w.grad = None  # outside the compiled function: a replay runs no Python
            return fn(x, w)

        run = Run(step, None, fn if compiled else None)
        run.grads = lambda: [x.grad.data.copy(), w.grad.data.copy()]
        return run

    def torch(self, compiled: bool) -> Run:
        import torch

        x = torch.tensor(self.data, requires_grad=True)
        w = torch.full_like(x, 0.5).requires_grad_()
        n = self.n_ops

        def chain(x, w):
            return bench_ops.chain(x, w, n)

        fwd = torch.compile(chain) if compiled else chain

        def step(i):
            x.grad = w.grad = None
            loss = fwd(x, w)
            loss.backward()
            return loss

        return Run(step)

    def per_step_note(self, ms: float) -> str:
        return f"{ms / self.n_ops * 1e3:.2f} us/op"


def make_workload(name: str) -> Workload:
    if name == "captioner":
        return CaptionerWorkload()
    if name == "ops":
        return OpsWorkload()
    return RecipeWorkload(name)


def make_run(work: Workload, variant: str) -> Run:
    if variant.startswith("cr_"):
        return work.chainrule(compiled=variant == "cr_compiled")
    return work.torch(compiled=variant == "torch_compile")


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
        k: [float(_loss_value(r.step(i))) for i in range(2)]
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
        losses[variant] = [_loss_value(run.step(i)) for i in range(steps)]
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
            res["first_step_loss"] = float(_loss_value(run.step(0)))
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

        info["blas_threads"] = [p["num_threads"] for p in threadpool_info()]
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
    t0 = time.perf_counter()
    res["variants"].update(time_interleaved(work, timed, args))
    for v in timed:
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
