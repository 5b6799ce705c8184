"""What each rank runs in tests/distributed/test_distributed_torch_api.py, under ``mpirun -n 2``: PyTorch's
process-group API, written as a PyTorch program would (``dist.init_process_group("gloo")``,
``dist.all_reduce(t, op=dist.ReduceOp.SUM)``, ...).

    python pg_worker.py OUT.json

Every rank records what each collective left in its tensors (and the errors of the calls that
must fail); rank 0 gathers the records of all ranks and writes them to OUT.json, where the test
compares them with NumPy's reduction of the inputs (``inputs`` below).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist


def inputs(rank: int) -> dict[str, np.ndarray]:
    """Rank ``rank``'s tensors (distinct on every rank, so that a wrong reduction shows)."""
    base = np.array([[1.5, -2.0, 3.0], [0.25, 4.0, -1.0]])
    return {
        "float32": (base * (rank + 1) + rank).astype(np.float32),
        "float64": base - 2.0 * rank,
        "int64": np.array([rank + 1, 6 - 3 * rank, 12], dtype=np.int64),
        "bool": np.array([rank == 0, rank == 1, True, False]),
        "float16": (base[0] * (rank + 2)).astype(np.float16),
    }


def _error(fn) -> list[str] | None:
    try:
        fn()
    except Exception as e:
        return [type(e).__name__, str(e)]
    return None


def collectives(rank: int, size: int) -> dict:
    """What each collective left in this rank's tensors."""
    out: dict = {}
    for name, value in inputs(rank).items():
        for op in ("SUM", "PRODUCT", "MIN", "MAX", "AVG", "BAND", "BOR", "BXOR"):
            if op == "AVG" and name in ("int64", "bool"):
                continue
            if op.startswith("B") and name not in ("int64", "bool"):
                continue
            t = cr.tensor(value)
            assert dist.all_reduce(t, op=getattr(dist.ReduceOp, op)) is None
            out[f"all_reduce {name} {op}"] = t.tolist()
    half = cr.tensor(inputs(rank)["float32"]).to(cr.bfloat16)  # no MPI type: summed in float32
    dist.all_reduce(half, op=dist.ReduceOp.AVG)
    out["all_reduce bfloat16 AVG"] = [str(half.dtype), half.float().tolist()]
    # A strided view: the result is written through to its base.
    base = cr.tensor(inputs(rank)["float64"])
    dist.all_reduce(base[:, ::2])
    out["all_reduce view"] = base.tolist()
    b = cr.tensor(inputs(rank)["float32"])
    work = dist.broadcast(b, src=1, async_op=True)
    out["broadcast src=1"] = [b.tolist(), work.wait()]
    gathered = [cr.zeros(2, 3) for _ in range(size)]
    dist.all_gather(gathered, cr.tensor(inputs(rank)["float32"]))
    out["all_gather"] = [g.tolist() for g in gathered]
    into = cr.zeros(2 * size, 3)
    dist.all_gather_into_tensor(into, cr.tensor(inputs(rank)["float32"]))
    out["all_gather_into_tensor"] = into.tolist()
    scattered = cr.zeros(3, dtype=cr.int64)
    dist.reduce_scatter(scattered, [cr.tensor(inputs(r)["int64"]) * (rank + 1) for r in range(2)])
    out["reduce_scatter"] = scattered.tolist()
    objects = [None] * size
    dist.all_gather_object(objects, {"rank": rank})
    out["all_gather_object"] = objects
    listed = [f"from {rank}", rank]
    dist.broadcast_object_list(listed, src=1)
    out["broadcast_object_list"] = listed
    return out


def ddp_step(rank: int) -> dict:
    """One backward through PyTorch's DistributedDataParallel after init_process_group: its
    gradient must be the mean over the ranks of the bare module's (taken with all_reduce AVG)."""
    cr.manual_seed(10 + rank)  # different weights on each rank: DDP must take rank 0's
    model = cr.nn.parallel.DistributedDataParallel(cr.nn.Linear(3, 2))
    x = cr.tensor(inputs(rank)["float32"])
    (local,) = cr.autograd.grad(model.module(x).pow(2).sum(), [model.module.weight])
    dist.all_reduce(local, op=dist.ReduceOp.AVG)
    model(x).pow(2).sum().backward()
    weight = model.module.weight.detach().clone()
    gathered = [cr.zeros(2, 3) for _ in range(2)]
    dist.all_gather(gathered, weight)
    return {
        "ddp grad": model.module.weight.grad.tolist(),
        "mean of local grads": local.tolist(),
        "same weights": bool((gathered[0] == gathered[1]).all()),
    }


def main(path: str) -> None:
    # What torchrun would have set, read as PyTorch programs read it (before anything else).
    torchrun = {v: os.environ.get(v) for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    before = dist.is_initialized()
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    record = {
        "before": before,
        "torchrun": torchrun,
        "rank": rank,
        "size": size,
        "mpi rank": dist.rank(),
        "backend": dist.get_backend(),
        "twice": _error(lambda: dist.init_process_group("gloo")),
        "bad src": _error(lambda: dist.broadcast(cr.zeros(1), src=size)),
        "short list": _error(lambda: dist.all_gather([cr.zeros(1)], cr.zeros(1))),
    }
    record.update(collectives(rank, size))
    record.update(ddp_step(rank))
    dist.barrier()
    dist.destroy_process_group()
    record["after destroy"] = dist.is_initialized()
    # What the program says must be what mpirun did.
    record["wrong size"] = _error(lambda: dist.init_process_group("mpi", world_size=size + 1))
    record["wrong rank"] = _error(lambda: dist.init_process_group("mpi", rank=1 - rank))
    dist.init_process_group("mpi", world_size=size, rank=rank)
    record["again"] = [dist.is_initialized(), dist.get_rank()]
    records = dist.gather_object(record)
    if rank == 0:
        with open(path, "w") as f:
            json.dump(records, f)


if __name__ == "__main__":
    main(sys.argv[1])
