"""Data-parallel training over MPI (mpi4py): R processes, each with its own shard of the data,
averaging their gradients after every backward pass so that they stay one model.

Launch any training script (or ``chainrule train``) with ``mpirun -n R``; in it::

    import chainrule.distributed as dist

    dist.init()                                    # rank and world size from MPI
    model = build_model()
    dist.broadcast_parameters(model)               # checks the ranks agree, then rank 0's weights
    optimizer = dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=1e-3))
    sampler = dist.DistributedSampler(train_set, seed=0)
    loader = cr.data.DataLoader(train_set, batch_size=64, sampler=sampler)  # per-rank batch
    with dist.abort_on_error():                    # an error on one rank ends the whole job
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()                       # Allreduce (mean over ranks), then Adam
            if dist.is_main(): ...                 # print, save

Without ``mpirun`` (or with one process) everything here is the identity and mpi4py is not
imported. See docs/distributed.md for the commands, hostfiles and fault behaviour.
"""

from __future__ import annotations

from chainrule.distributed.comm import (
    abort,
    abort_on_error,
    all_reduce_sum,
    barrier,
    broadcast_object,
    gather_object,
    get_comm,
    init,
    is_initialized,
    is_main,
    launched_size,
    on_main,
    rank,
    rank_seed,
    world_size,
)
from chainrule.distributed.model import (
    ModelMismatchError,
    broadcast_buffers,
    broadcast_parameters,
    check_same_model,
    model_signature,
)
from chainrule.distributed.reducer import DistributedOptimizer, GradientReducer
from chainrule.distributed.sampler import DistributedSampler
from chainrule.nn.parallel import distributed as _ddp
from chainrule.utils.data import distributed as _data

# The layers below reach MPI through these: nn.parallel.DistributedDataParallel, and
# utils.data.distributed.DistributedSampler's default world.
_ddp.set_communication(world_size, broadcast_parameters, GradientReducer)
_data.set_world(world_size, rank)

__all__ = [
    "DistributedOptimizer",
    "DistributedSampler",
    "GradientReducer",
    "ModelMismatchError",
    "abort",
    "abort_on_error",
    "all_reduce_sum",
    "barrier",
    "broadcast_buffers",
    "broadcast_object",
    "broadcast_parameters",
    "check_same_model",
    "gather_object",
    "get_comm",
    "init",
    "is_initialized",
    "is_main",
    "launched_size",
    "model_signature",
    "on_main",
    "rank",
    "rank_seed",
    "world_size",
]
