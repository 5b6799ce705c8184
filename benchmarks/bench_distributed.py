"""Data-parallel throughput of the ``mlp`` workload (784-256-256-10, Adam, Fashion-MNIST, batch
128 per process) with 1 and 2 MPI processes, and the time per step spent in Allreduce.

Run it plainly; it launches itself under ``mpirun`` for each configuration and prints a table:

    .venv/bin/python benchmarks/bench_distributed.py [--steps 300] [--repeats 3] [--json FILE]

Configurations (every one runs ``--repeats`` times; the best run of each is reported, because
other programs share the cores and only disturb a run, never speed it up):

- ``1 process`` with BLAS free to use every core (the plain ``chainrule train`` case);
- ``1 process, 1 BLAS thread`` and ``mpirun -n 1`` (same, through MPI; the Allreduce is skipped);
- ``mpirun -n 2``, one BLAS thread per rank: with R ranks on R cores, BLAS threads of their own
  would oversubscribe the cores, and OpenBLAS threads spin while they wait for work, so each
  rank's extra threads would steal the other rank's core;
- the same with ``mpi_yield_when_idle=1``: a rank waiting in Allreduce yields its core instead
  of spinning on it (Open MPI spins unless it sees more ranks than slots), which matters when
  other programs want the cores too.

Per configuration: examples/s over all ranks, milliseconds per step, and for 2 ranks the
Allreduce time per step measured inside the step (``reducer.seconds``; it includes waiting for
the slower rank to arrive) and measured alone after a barrier (the transfer itself).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)


def worker(steps: int, batch: int, warmup: int) -> None:
    """What each rank runs: ``steps`` timed training steps after ``warmup`` untimed ones."""
    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule.data import ArrayDataset, DataLoader
    from chainrule.datasets import load_splits
    from chainrule.models import get_recipe

    dist.init()
    recipe = get_recipe("mlp")
    (x, y), _, _ = load_splits("fashion-mnist")
    x = x.reshape(len(x), -1)
    cr.manual_seed(0)
    model = recipe.build((1, 28, 28), 10)
    dist.broadcast_parameters(model)
    optimizer = dist.DistributedOptimizer(cr.optim.Adam(list(model.parameters()), lr=1e-3))
    ds = ArrayDataset(x, y)
    loader = DataLoader(ds, batch_size=batch, sampler=dist.DistributedSampler(ds, seed=0))

    def batches():
        while True:
            yield from loader

    it = batches()

    def step():
        xb, yb = next(it)
        loss = recipe.loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    dist.barrier()
    optimizer.reducer.reset_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    dist.barrier()
    wall = time.perf_counter() - t0
    # The share of the wall time this rank was on a core (Open MPI's waiting spins count too):
    # below 1, other programs on the machine had the core.
    cpu_share = dist.gather_object((time.process_time() - c0) / wall)

    # The Allreduce alone: the same bucket, after a barrier, so that no rank waits for another.
    pure = None
    if dist.world_size() > 1:
        from mpi4py import MPI

        comm = dist.get_comm()
        buf = np.zeros(sum(b["nbytes"] for b in optimizer.reducer.buckets) // 4, np.float32)
        times = []
        for _ in range(50):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        pure = float(np.median(times))
    if dist.is_main():
        r = dist.world_size()
        print(
            json.dumps(
                {
                    "world_size": r,
                    "steps": steps,
                    "batch_per_rank": batch,
                    "wall_s": wall,
                    "examples_per_s": r * batch * steps / wall,
                    "ms_per_step": 1e3 * wall / steps,
                    "allreduce_ms_per_step": 1e3 * optimizer.reducer.seconds / steps,
                    "allreduce_alone_ms": None if pure is None else 1e3 * pure,
                    "gradient_bytes": sum(b["nbytes"] for b in optimizer.reducer.buckets),
                    "buckets": len(optimizer.reducer.buckets),
                    "cpu_share_min": min(cpu_share),
                }
            ),
            flush=True,
        )


def launch(n: int | None, blas_threads: int | None, extra_env: dict, args) -> dict:
    """Runs the worker in 1 process (n=None: no mpirun) or under ``mpirun -n n``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")}
    env.update(extra_env)
    if blas_threads is not None:
        env.update(OPENBLAS_NUM_THREADS=str(blas_threads), OMP_NUM_THREADS=str(blas_threads))
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [sys.executable, HERE, "--worker", "--steps", str(args.steps), "--batch", str(args.batch)]
    if n is not None:
        cmd = [shutil.which("mpirun"), "--oversubscribe", "-n", str(n), *cmd]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300, help="timed steps per run")
    p.add_argument("--batch", type=int, default=128, help="batch per process")
    p.add_argument("--repeats", type=int, default=3, help="runs per configuration (best kept)")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.steps, args.batch, warmup=20)
        return
    if shutil.which("mpirun") is None:
        sys.exit("bench_distributed: mpirun not found (bash setup.sh installs Open MPI)")
    yield_env = {"OMPI_MCA_mpi_yield_when_idle": "1"}
    configs = [
        ("1 process (BLAS threads: default)", None, None, {}),
        ("1 process, 1 BLAS thread", None, 1, {}),
        ("mpirun -n 1, 1 BLAS thread", 1, 1, {}),
        ("mpirun -n 2, 1 BLAS thread each", 2, 1, {}),
        ("mpirun -n 2, same, yield when idle", 2, 1, yield_env),
    ]
    load_before = os.getloadavg()
    # Round-robin, so that a busy spell of the other programs on the machine falls on every
    # configuration alike rather than on all the repeats of one.
    runs: dict[str, list[dict]] = {name: [] for name, *_ in configs}
    for _ in range(args.repeats):
        for name, n, threads, extra in configs:
            runs[name].append(launch(n, threads, extra, args))
    rows = []
    for name, *_ in configs:
        best = max(runs[name], key=lambda r: r["examples_per_s"])
        best["config"] = name
        best["all_examples_per_s"] = [round(r["examples_per_s"]) for r in runs[name]]
        rows.append(best)
    base = rows[1]["examples_per_s"]
    load_after = os.getloadavg()
    print(
        f"mlp on Fashion-MNIST, batch {args.batch} per process, {args.steps} timed steps, "
        f"best of {args.repeats} runs; {os.cpu_count()} cores ({platform.processor() or '?'}) "
        f"shared with other programs: load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after"
    )
    head = f"{'configuration':36} {'examples/s':>11} {'vs 1x1':>7} {'ms/step':>8} "
    print(head + f"{'allreduce ms/step':>18} {'alone':>7} {'cpu':>5}   runs (examples/s)")
    for r in rows:
        ar = r["allreduce_ms_per_step"] if r["world_size"] > 1 else None
        alone = r["allreduce_alone_ms"]
        print(
            f"{r['config']:36} {r['examples_per_s']:11,.0f} {r['examples_per_s'] / base:6.2f}x "
            f"{r['ms_per_step']:8.2f} "
            + (
                f"{ar:11.3f} ({100 * ar / r['ms_per_step']:3.0f}%)"
                if ar is not None
                else f"{'-':>18}"
            )
            + (f" {alone:7.3f}" if alone is not None else f" {'-':>7}")
            + f" {r['cpu_share_min']:5.2f}"
            + f"   {r['all_examples_per_s']}"
        )
    print(
        "allreduce ms/step: time inside MPI_Allreduce per step, waiting for the other rank "
        "included; alone: the same Allreduce after a barrier (the transfer itself); cpu: the "
        "lowest share of wall time a rank had a core in the best run"
    )
    g = rows[3]
    print(
        f"gradients: {g['gradient_bytes'] / 2**20:.2f} MiB in {g['buckets']} bucket(s), one "
        "Allreduce each per step"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
