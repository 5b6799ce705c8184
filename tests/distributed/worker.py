"""What each rank runs in tests/distributed/test_distributed.py, under ``mpirun -n 2``.

    python worker.py train OUT.json       5 steps of SGD and of Adam, data-parallel; rank 0 writes
                                          the parameters and the checks made on the way
    python worker.py mismatch             rank 1 builds another model: every rank must refuse
    python worker.py crash                rank 1 raises at step 3: the job must end, not hang
    python worker.py spin PIDDIR          steps for ever (each rank writes PIDDIR/RANK.pid), to
                                          be killed from outside

The single-process side of each comparison (batch R·B) is ``reference_run`` below, which the
test calls in its own process.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader, TensorDataset
from chainrule.models.mlp import MLP

B = 8  # per-rank batch
STEPS = 5
SIZES = [6, 16, 16, 3]


def make_data(n: int = 2 * B * STEPS + 3) -> TensorDataset:
    """A small classification set (N odd, so that the sampler must pad)."""
    rng = np.random.default_rng(42)
    x = rng.standard_normal((n, SIZES[0]))
    y = rng.integers(0, SIZES[-1], n)
    return TensorDataset(x.astype(cr.get_default_dtype()), y)


def make_optimizer(name: str, params) -> cr.optim.Optimizer:
    if name == "sgd":
        return cr.optim.SGD(params, lr=0.1, momentum=0.9)
    return cr.optim.Adam(params, lr=0.01)


def run_steps(model, optimizer, loader, steps: int = STEPS) -> None:
    it = iter(loader)
    for _ in range(steps):
        xb, yb = next(it)
        loss = cr.nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def params_of(model) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.named_parameters()}


def reference_run(opt: str, dtype: str = "float32", world: int = 2) -> dict[str, np.ndarray]:
    """One process, batch world·B, the same seed: what the data-parallel run must equal."""
    prev = cr.get_default_dtype()
    cr.set_default_dtype(np.dtype(dtype))
    try:
        cr.manual_seed(0)
        model = MLP(SIZES)
        ds = make_data()
        loader = DataLoader(ds, batch_size=world * B, shuffle=True, seed=1)
        run_steps(model, make_optimizer(opt, list(model.parameters())), loader)
        return params_of(model)
    finally:
        cr.set_default_dtype(prev)


def distributed_run(opt: str, dtype: str = "float32", **reducer_options) -> dict:
    prev = cr.get_default_dtype()
    cr.set_default_dtype(np.dtype(dtype))
    try:
        # Each rank starts from other random weights: the broadcast must make them rank 0's.
        cr.manual_seed(0 if dist.rank() == 0 else 1000 + dist.rank())
        model = MLP(SIZES)
        dist.broadcast_parameters(model)
        ds = make_data()
        sampler = dist.DistributedSampler(ds, seed=1)
        loader = DataLoader(ds, batch_size=B, sampler=sampler)
        optimizer = dist.DistributedOptimizer(
            make_optimizer(opt, list(model.parameters())), **reducer_options
        )
        run_steps(model, optimizer, loader)
        p = params_of(model)
        mine = np.concatenate([a.ravel() for a in p.values()])
        # Every rank must hold exactly the same parameters after the steps.
        same = bool(np.array_equal(mine, dist.broadcast_object(mine)))
        return {"params": p, "same_on_all_ranks": dist.all_reduce_sum([same])[0]}
    finally:
        cr.set_default_dtype(prev)


def scenario_train(out: str) -> None:
    results: dict = {}
    runs = {
        "sgd": dict(opt="sgd"),
        "adam": dict(opt="adam"),
        # A bucket smaller than one weight matrix: one Allreduce per parameter or so.
        "adam_small_buckets": dict(opt="adam", bucket_cap_mb=0.001),
        # float64 parameters whose gradients are summed in float32.
        "sgd_float64_reduced_in_float32": dict(opt="sgd", dtype="float64", reduce_dtype="float32"),
    }
    for name, kw in runs.items():
        r = distributed_run(**kw)
        results[name] = {k: v.tolist() for k, v in r["params"].items()}
        results[name + ".same_on_all_ranks"] = r["same_on_all_ranks"]
    results["buckets.adam_small_buckets"] = len(
        dist.DistributedOptimizer(
            cr.optim.Adam(list(MLP(SIZES).parameters())), bucket_cap_mb=0.001
        ).reducer.buckets
    )

    # Sharding: what every rank's loader serves, over two epochs.
    ds = make_data()
    loader = DataLoader(ds, batch_size=B, sampler=dist.DistributedSampler(ds, seed=5))
    served = []
    for _ in range(2):
        served.append([int(i) for i in loader.order(loader.epoch)])
        results.setdefault("batches_per_epoch", []).append(sum(1 for _ in loader))
    results["served"] = dist.gather_object(served)
    results["batches_by_rank"] = dist.gather_object(results["batches_per_epoch"])

    # Gradients that are None: on every rank (stays None), on one rank only (averaged with 0).
    cr.manual_seed(0)
    a = cr.nn.Parameter(cr.ones(3))
    unused = cr.nn.Parameter(cr.ones(2))
    only_rank0 = cr.nn.Parameter(cr.ones(2))
    loss = (a * float(dist.rank() + 1)).sum()
    if dist.rank() == 0:
        loss = loss + (only_rank0 * 4.0).sum()
    loss.backward()
    reducer = dist.GradientReducer([a, unused, only_rank0])
    reducer.reduce()
    results["none_grads"] = {
        "a": a.grad.numpy().tolist(),  # mean of 1 and 2
        "unused_is_none": unused.grad is None,
        "only_rank0": only_rank0.grad.numpy().tolist(),  # mean of 4 and 0
        "allreduce_seconds": reducer.seconds,
        "steps": reducer.steps,
    }
    gathered = dist.gather_object(results["none_grads"])
    if dist.is_main():
        results["none_grads_by_rank"] = gathered
        results["world_size"] = dist.world_size()
        with open(out, "w") as f:
            json.dump(results, f)


def scenario_mismatch() -> None:
    sizes = SIZES if dist.rank() == 0 else [6, 12, 16, 3, 5]
    model = MLP(sizes)
    try:
        dist.broadcast_parameters(model)
    except dist.ModelMismatchError as e:
        print(f"rank {dist.rank()} refused: {e}", flush=True)
        # Both ranks refuse; wait for each other so that the first to exit does not make mpirun
        # kill the other before its line is printed.
        dist.barrier()
        sys.exit(3)
    print(f"rank {dist.rank()} accepted a mismatched model", flush=True)


def scenario_crash() -> None:
    ds = make_data()
    cr.manual_seed(0)
    model = MLP(SIZES)
    dist.broadcast_parameters(model)
    loader = DataLoader(ds, batch_size=B, sampler=dist.DistributedSampler(ds, seed=1))
    optimizer = dist.DistributedOptimizer(cr.optim.SGD(list(model.parameters()), lr=0.1))
    with dist.abort_on_error():
        for step in range(10_000):
            for xb, yb in loader:
                if dist.rank() == 1 and step == 3:
                    raise RuntimeError("simulated failure on rank 1 at step 3")
                loss = cr.nn.functional.cross_entropy(model(xb), yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                break


def scenario_spin(piddir: str) -> None:
    ds = make_data()
    cr.manual_seed(0)
    model = MLP(SIZES)
    dist.broadcast_parameters(model)
    loader = DataLoader(ds, batch_size=B, sampler=dist.DistributedSampler(ds, seed=1))
    optimizer = dist.DistributedOptimizer(cr.optim.SGD(list(model.parameters()), lr=0.01))
    deadline = time.monotonic() + 120  # never outlive a broken test by long
    steps = 0
    while time.monotonic() < deadline:
        for xb, yb in loader:
            loss = cr.nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == 3:  # both ranks are inside the Allreduce loop: ready to be killed
                with open(os.path.join(piddir, f"{dist.rank()}.pid.tmp"), "w") as f:
                    f.write(str(os.getpid()))
                os.replace(
                    os.path.join(piddir, f"{dist.rank()}.pid.tmp"),
                    os.path.join(piddir, f"{dist.rank()}.pid"),
                )
    print("spin: deadline reached without being killed", flush=True)
    sys.exit(5)


if __name__ == "__main__":
    dist.init()
    what = sys.argv[1]
    if what == "train":
        scenario_train(sys.argv[2])
    elif what == "mismatch":
        scenario_mismatch()
    elif what == "crash":
        scenario_crash()
    elif what == "spin":
        scenario_spin(sys.argv[2])
    else:
        raise SystemExit(f"worker.py: unknown scenario {what!r}")
