"""The issue's CNN, one training step at batch 64: chainrule vs PyTorch (CPU) in one run.

    conv(1→32, 3×3, pad 1)–BN–ReLU–maxpool 2 → conv(32→64, 3×3, pad 1)–BN–ReLU–maxpool 2
    → Linear(3136→128)–ReLU–Dropout → Linear(128→10), cross-entropy, SGD with momentum

on random 28×28 inputs. Both models start from the same weights (PyTorch's initialisation
copied into chainrule), and their logits are compared before timing.

Time: blocks of steps alternate between the two frameworks, so that whatever else runs on the
machine slows both alike; each reports its best block and its median block in ms per step
(forward + backward + optimiser step), seconds per 60,000-image epoch, and the ratio.

CPU time, one thread: the same steps in a subprocess per framework with one thread each
(``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``), timed by ``time.thread_time``: the
work each framework does, which other processes on a shared machine do not inflate the way they
inflate wall-clock time (under load the wall-clock figures moved 5-10x between runs).

Memory: the peak resident set size of a fresh process during the steps (the kernel's VmHWM, reset
after imports, model and batch are made) minus its RSS at that point: measured the same way for
both, each in its own subprocess. For chainrule the peak of NumPy's allocations (``tracemalloc``,
which sees them; it does not see PyTorch's) is printed too, from a separate run.

Profile: ``cProfile`` over chainrule's steps in the one-thread run, cumulative time per op's
forward and vjp.

Paths (``--paths``): per convolution shape, chunked im2col + GEMM (ops/conv.py) against kh·kw
shifted GEMMs (conv_shifted.py), forward and weight gradient: why ops/conv.py keeps im2col.

    .venv/bin/python benchmarks/bench_conv.py [--steps 10] [--blocks 6] [--json FILE] [--paths]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import conv_shifted
import numpy as np
from op_profile import profile_ops

import chainrule as cr
import chainrule.nn as nn

BATCH = 64
EPOCH_IMAGES = 60_000


def build(m):
    """The issue's ``cnn`` from the layers of ``m`` (``chainrule.nn`` or ``torch.nn``)."""
    return m.Sequential(
        m.Conv2d(1, 32, 3, padding=1),
        m.BatchNorm2d(32),
        m.ReLU(),
        m.MaxPool2d(2),
        m.Conv2d(32, 64, 3, padding=1),
        m.BatchNorm2d(64),
        m.ReLU(),
        m.MaxPool2d(2),
        m.Flatten(),
        m.Linear(3136, 128),
        m.ReLU(),
        m.Dropout(0.5),
        m.Linear(128, 10),
    )


def batch(batch_size: int):
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    return x, y


class ChainruleRun:
    def __init__(self, batch_size: int, state: dict | None = None):
        cr.manual_seed(0)
        self.model = build(nn)
        if state is not None:
            self.model.load_state_dict({k: cr.tensor(v) for k, v in state.items()})
        self.opt = cr.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.loss_fn = nn.CrossEntropyLoss()
        x, y = batch(batch_size)
        self.x, self.y = cr.tensor(x), cr.tensor(y)

    def step(self) -> None:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def logits(self) -> np.ndarray:
        self.model.eval()
        with cr.no_grad():
            out = self.model(self.x).numpy().copy()
        self.model.train()
        return out


class TorchRun:
    def __init__(self, batch_size: int):
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.model = build(torch.nn)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        x, y = batch(batch_size)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def step(self) -> None:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def logits(self) -> np.ndarray:
        self.model.eval()
        with self.torch.no_grad():
            out = self.model(self.x).numpy().copy()
        self.model.train()
        return out

    def state(self) -> dict:
        return {k: v.detach().numpy().copy() for k, v in self.model.state_dict().items()}


def time_interleaved(runs: dict, steps: int, blocks: int) -> dict:
    """ms per step of each run's blocks, the runs taking turns block by block."""
    for run in runs.values():  # warm-up: first-call costs (allocations, lazy initialisation)
        for _ in range(3):
            run.step()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(blocks):
        for name, run in runs.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                run.step()
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
    return times


# ----- CPU time with one thread, each framework in a fresh process -----
def cpu_child(which: str, steps: int, batch_size: int) -> None:
    if which == "torch":
        import torch

        torch.set_num_threads(1)
    run = ChainruleRun(batch_size) if which == "chainrule" else TorchRun(batch_size)
    for _ in range(3):
        run.step()
    ms = []
    for _ in range(steps):
        t0 = time.thread_time()
        run.step()
        ms.append((time.thread_time() - t0) * 1e3)
    res = {"cpu_ms_per_step": ms}
    if which == "chainrule":
        res["profile"] = profile(run, steps)
    print(json.dumps(res))


def measure_cpu(which: str, steps: int, batch_size: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--cpu-child", which, "--steps", str(steps),
         "--batch", str(batch_size)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----- memory, each framework in a fresh process -----
def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: now; VmHWM: its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0). Needed because a
    # subprocess starts with its parent's high-water mark: ``getrusage``'s ``ru_maxrss`` in a
    # child that imported nothing read 221 MiB when its parent had imported torch.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def memory_child(which: str, steps: int, batch_size: int, traced: bool) -> None:
    run = ChainruleRun(batch_size) if which == "chainrule" else TorchRun(batch_size)
    _reset_peak_rss()
    before = _status_mib("VmRSS")
    if traced:
        tracemalloc.start()
    for _ in range(steps):
        run.step()
    res = {"rss_before_mib": before, "peak_rss_mib": _status_mib("VmHWM")}
    if traced:
        res["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(json.dumps(res))


def measure_memory(which: str, steps: int, batch_size: int, traced: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", which, "--steps", str(steps),
         "--batch", str(batch_size)] + (["--traced"] if traced else []),
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["peak_increase_mib"] = res["peak_rss_mib"] - res["rss_before_mib"]
    return res


# ----- the two convolution paths, per shape: why ``ops/conv.py`` keeps im2col -----
PATH_SHAPES = [(c, o, hw) for hw in (14, 32) for c in (16, 32, 64) for o in (16, 32, 64)]


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _path_fns(k, x, w, g, geom) -> dict:
    """The four computations ``time_paths`` compares, on these arrays."""
    return {
        "fwd_im2col": lambda: k.conv2d_im2col(x, w, geom),
        "fwd_shifted": lambda: conv_shifted.conv2d_shifted(x, w, geom),
        "dw_im2col": lambda: k.conv2d_weight_im2col(x, g, geom),
        "dw_shifted": lambda: conv_shifted.conv2d_weight_shifted(x, g, w.shape, geom),
    }


def time_paths(repeats: int = 5, batch_size: int = BATCH) -> list[dict]:
    """For each (C, O, H=W) of ``PATH_SHAPES`` (3×3 kernel, padding 1, stride 1, float32,
    channels-last input as the network makes it): the median ms of the forward convolution as
    im2col + one GEMM and as shifted GEMMs, and of the weight gradient both ways, the paths
    taking turns; then whether ops/conv.py's path (im2col) was the faster one.
    (An input gradient with stride 1 is the forward convolution of dY, C and O swapped.)"""
    from chainrule.ops import conv as k

    geom = k.Geometry(3, 3, 1, 1, 1, 1)
    rng = np.random.default_rng(0)
    rows = []
    for c, o, hw in PATH_SHAPES:
        x = rng.standard_normal((batch_size, hw, hw, c), dtype=np.float32).transpose(0, 3, 1, 2)
        w = rng.standard_normal((o, c, 3, 3), dtype=np.float32)
        g = rng.standard_normal((batch_size, hw, hw, o), dtype=np.float32).transpose(0, 3, 1, 2)
        fns = _path_fns(k, x, w, g, geom)
        ms = {name: [] for name in fns}
        for _ in range(repeats):
            for name, fn in fns.items():
                ms[name].append(_median_ms(fn, 1))
        row = {"C": c, "O": o, "HW": hw, **{n: statistics.median(v) for n, v in ms.items()}}
        row["fwd_rule"] = row["dw_rule"] = "im2col"  # ops/conv.py's only path
        rows.append(row)
    return rows


def print_paths(rows: list[dict]) -> None:
    print("convolution paths, 3×3 pad 1 stride 1, batch 64, median ms (ops/conv.py's in [ ]):")
    print(f"  {'C':>3} {'O':>3} {'H=W':>4} | {'fwd im2col':>10} {'shifted':>8} | "
          f"{'dW im2col':>9} {'shifted':>8}")  # fmt: skip
    agree = 0
    for r in rows:
        cells = []
        for kind in ("fwd", "dw"):
            a, b = r[f"{kind}_im2col"], r[f"{kind}_shifted"]
            pick = r[f"{kind}_rule"]
            agree += (pick == "shifted") == (b < a)
            cells.append(
                (f"[{a:.1f}]" if pick == "im2col" else f"{a:.1f}").rjust(10 if kind == "fwd" else 9)
                + " "
                + (f"[{b:.1f}]" if pick == "shifted" else f"{b:.1f}").rjust(8)
            )
        print(f"  {r['C']:>3} {r['O']:>3} {r['HW']:>4} | {cells[0]} | {cells[1]}")
    print(f"  ops/conv.py's path was the faster in {agree} of {2 * len(rows)} cases")


# ----- profile -----
def profile(run: ChainruleRun, steps: int, top: int = 14) -> list[tuple[str, int, float]]:
    """(op method, calls per step, ms per step) of the costliest ops, by cumulative time: CPU
    time, which other processes do not inflate."""
    return profile_ops(run.step, steps, top, timer=time.thread_time)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="steps per timed block")
    p.add_argument("--blocks", type=int, default=6, help="timed blocks per framework")
    p.add_argument("--batch", type=int, default=BATCH)
    p.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--memory-child", choices=["chainrule", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cpu-child", choices=["chainrule", "torch"], help=argparse.SUPPRESS)
    p.add_argument(
        "--paths",
        action="store_true",
        help="only time im2col against shifted GEMMs per shape (the rule in ops/conv.py)",
    )
    args = p.parse_args()
    if args.paths:
        rows = time_paths(batch_size=args.batch)
        print_paths(rows)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"paths": rows}, f, indent=2)
        return
    if args.cpu_child:
        cpu_child(args.cpu_child, 2 * args.steps, args.batch)
        return
    if args.memory_child:
        memory_child(args.memory_child, args.steps, args.batch, args.traced)
        return

    import torch

    theirs = TorchRun(args.batch)
    ours = ChainruleRun(args.batch, theirs.state())
    # Same weights, same input: the same logits (eval mode: no dropout, running statistics).
    np.testing.assert_allclose(ours.logits(), theirs.logits(), rtol=1e-3, atol=1e-4)

    times = time_interleaved({"chainrule": ours, "PyTorch": theirs}, args.steps, args.blocks)
    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    per_epoch = EPOCH_IMAGES / args.batch / 1e3

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")  # fmt: skip
    print(f"cnn, batch {args.batch}, forward + backward + SGD step; {args.blocks} blocks of "
          f"{args.steps} steps each, alternating")  # fmt: skip
    for k in times:
        print(f"  {k:<10}: best {best[k]:6.1f} ms/step   median {med[k]:6.1f} ms/step   "
              f"≈ {med[k] * per_epoch:5.1f} s/epoch of {EPOCH_IMAGES:,} images")  # fmt: skip
    ratio_best = best["chainrule"] / best["PyTorch"]
    ratio_med = med["chainrule"] / med["PyTorch"]
    print(f"  time ratio chainrule/PyTorch: {ratio_best:.2f} (best)   {ratio_med:.2f} (median)")

    result = {"ms_per_step": times, "ratio_best": ratio_best, "ratio_median": ratio_med}
    cpu = {k: measure_cpu(k, args.steps, args.batch) for k in ("chainrule", "torch")}
    print(f"CPU time of one thread per step ({2 * args.steps} steps, a fresh process each, "
          f"OPENBLAS_NUM_THREADS=1 and torch.set_num_threads(1)):")  # fmt: skip
    med_cpu = {}
    for k, v in cpu.items():
        ms = v["cpu_ms_per_step"]
        med_cpu[k] = statistics.median(ms)
        print(f"  {k:<10}: best {min(ms):6.1f} ms   median {med_cpu[k]:6.1f} ms")
    cpu_ratio = med_cpu["chainrule"] / med_cpu["torch"]
    print(f"  CPU-time ratio chainrule/PyTorch: {cpu_ratio:.2f} (median)")
    result.update(cpu=cpu, cpu_ratio=cpu_ratio)
    if not args.no_memory:
        mem = {k: measure_memory(k, args.steps, args.batch) for k in ("chainrule", "torch")}
        print(f"peak RSS during {args.steps} steps minus RSS before the first step (VmHWM - VmRSS, "
              f"a fresh process each):")  # fmt: skip
        for k, v in mem.items():
            print(
                f"  {k:<10}: {v['peak_increase_mib']:6.1f} MiB   (RSS before {v['rss_before_mib']:.0f} MiB)"
            )
        mratio = mem["chainrule"]["peak_increase_mib"] / mem["torch"]["peak_increase_mib"]
        print(f"  memory ratio chainrule/PyTorch: {mratio:.2f}")
        traced = measure_memory("chainrule", args.steps, args.batch, traced=True)
        print(f"  chainrule's NumPy allocations at their peak (tracemalloc, separate run): "
              f"{traced['tracemalloc_peak_mib']:.1f} MiB")  # fmt: skip
        result.update(memory=mem, memory_ratio=mratio)

    print(f"where chainrule's time goes (cProfile in the one-thread run, {2 * args.steps} steps; "
          "cumulative ms per step; a vjp includes the ops it applies):")  # fmt: skip
    for name, calls, ms in cpu["chainrule"]["profile"]:
        print(f"  {name:<34} {calls:3d}×  {ms:7.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
