"""PyTorch's torch.distributed process-group API on chainrule's MPI backend (docs/distributed.md).

    OPENBLAS_NUM_THREADS=1 mpirun --allow-run-as-root -n 2 .venv/bin/python examples/process_group.py

Without mpirun it runs as a group of one process.
"""

import chainrule as cr
import chainrule.distributed as dist

dist.init_process_group("gloo")  # rank and world size from MPI
rank, world = dist.get_rank(), dist.get_world_size()
t = cr.tensor([float(rank)])
dist.all_reduce(t, op=dist.ReduceOp.SUM)  # in place: 0 + 1 + ... + (world - 1) on every rank
dist.broadcast(t, src=0)
parts = [cr.zeros(1) for _ in range(world)]
dist.all_gather(parts, t)
dist.barrier()
print(f"rank {rank} of {world}: all_reduce gave {t.item():g}")
dist.destroy_process_group()
