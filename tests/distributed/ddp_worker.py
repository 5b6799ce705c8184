"""What each rank runs under ``mpirun -n 2`` for tests/porting/test_torch_names.py: a model wrapped in
``cr.nn.parallel.DistributedDataParallel``, as a PyTorch program writes it; rank 0 writes the
figures to the JSON file named by argv[1]."""

from __future__ import annotations

import json
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist


def local_grad(weights: dict, x: np.ndarray) -> np.ndarray:
    """The gradient of sum(model(x)**2) in this process alone, for the same weights."""
    m = cr.nn.Linear(4, 3)
    m.load_state_dict({k: cr.tensor(v) for k, v in weights.items()})
    (m(cr.tensor(x)) ** 2).sum().backward()
    return m.weight.grad.numpy()


def main(out: str) -> None:
    rank = dist.rank()
    cr.manual_seed(10 + rank)  # other weights on each rank: DDP must take rank 0's
    model = cr.nn.Linear(4, 3)
    ddp = cr.nn.parallel.DistributedDataParallel(model)
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = np.random.default_rng(rank).standard_normal((5, 4)).astype(np.float32)
    (ddp(cr.tensor(x)) ** 2).sum().backward()
    mine = local_grad(weights, x)
    results = {
        "same_start": dist.gather_object(weights["weight"].tolist()),
        "ddp_grad": dist.gather_object(model.weight.grad.numpy().tolist()),
        "local_grad": dist.gather_object(mine.tolist()),
    }
    # no_sync: two local backward passes accumulate; the next synced one averages the sum.
    model.zero_grad()
    with ddp.no_sync():
        (ddp(cr.tensor(x)) ** 2).sum().backward()
    results["inside_no_sync"] = dist.gather_object(model.weight.grad.numpy().tolist())
    (ddp(cr.tensor(x)) ** 2).sum().backward()
    results["after_no_sync"] = dist.gather_object(model.weight.grad.numpy().tolist())
    opt = cr.optim.SGD(ddp.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (ddp(cr.tensor(x)) ** 2).mean().backward()
        opt.step()
    results["final"] = dist.gather_object(model.weight.numpy().tolist())
    results["keys"] = list(ddp.state_dict())
    if rank == 0:
        with open(out, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
