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

PyTorch's ``torch.distributed`` API is here too, with PyTorch's meaning, on the same MPI world
(process_group.py, collectives.py): ``init_process_group``, ``destroy_process_group``,
``is_initialized``, ``get_rank``, ``get_world_size``, ``barrier``, ``all_reduce``,
``broadcast``, ``all_gather``, ``reduce_scatter``, ``ReduceOp``, ... .
"""

from __future__ import annotations

from chainrule.distributed.collectives import (
    all_gather,
    all_gather_into_tensor,
    all_gather_object,
    all_reduce,
    broadcast,
    broadcast_object_list,
    reduce_scatter,
)
from chainrule.distributed.comm import (
    abort,
    abort_on_error,
    all_reduce_sum,
    broadcast_object,
    export_torchrun_variables,
    gather_object,
    get_comm,
    init,
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
from chainrule.distributed.process_group import (
    GroupMember,
    ProcessGroup,
    ReduceOp,
    Work,
    barrier,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
)
from chainrule.distributed.reducer import DistributedOptimizer, GradientReducer
from chainrule.distributed.sampler import DistributedSampler
from chainrule.nn.parallel import distributed as _ddp
from chainrule.utils.data import distributed as _data

# The layers below reach MPI through these: nn.parallel.DistributedDataParallel, and
# utils.data.distributed.DistributedSampler's default world.
_ddp.set_communication(world_size, broadcast_parameters, GradientReducer)
_data.set_world(world_size, rank)
# Under mpirun, torchrun's RANK/WORLD_SIZE/LOCAL_RANK too: PyTorch programs read them at start-up.
export_torchrun_variables()

__all__ = [
    "DistributedOptimizer",
    "DistributedSampler",
    "GradientReducer",
    "GroupMember",
    "ModelMismatchError",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "abort",
    "abort_on_error",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_reduce_sum",
    "barrier",
    "broadcast",
    "broadcast_buffers",
    "broadcast_object",
    "broadcast_object_list",
    "broadcast_parameters",
    "check_same_model",
    "destroy_process_group",
    "export_torchrun_variables",
    "gather_object",
    "get_backend",
    "get_comm",
    "get_rank",
    "get_world_size",
    "group",
    "init",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_main",
    "is_mpi_available",
    "is_nccl_available",
    "launched_size",
    "model_signature",
    "on_main",
    "rank",
    "rank_seed",
    "reduce_scatter",
    "world_size",
]
