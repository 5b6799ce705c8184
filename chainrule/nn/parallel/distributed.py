"""``torch.nn.parallel.DistributedDataParallel`` on chainrule's MPI data parallelism.

Started by ``mpirun -n R`` (see docs/distributed.md), each rank runs its own batch through the
wrapped model; at construction every rank takes rank 0's parameters and buffers, and every
``backward()`` through the wrapper's output ends with the gradients averaged over the ranks
(``chainrule.distributed.GradientReducer``: the same buckets and Allreduce as
``DistributedOptimizer``), so the ranks stay one model. In one process it is a pass-through.

Where this differs from PyTorch: PyTorch requires ``torch.distributed.init_process_group``
first (and raises without it); here the world comes from the launcher, and a single process
needs nothing. ``no_sync()`` defers the averaging, as PyTorch's, until a backward outside it.

chainrule.distributed (a layer above nn) supplies the communication: it registers itself here
with ``set_communication`` when it is imported (``import chainrule`` does so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chainrule.autograd.custom import Function
from chainrule.autograd.engine import queue_callback
from chainrule.autograd.tensor import Tensor
from chainrule.nn.modules.module import Module

__all__ = ["DistributedDataParallel", "set_communication"]

# (world_size(), broadcast_parameters(model), GradientReducer(parameters)) from
# chainrule.distributed; None until it is imported.
_communication: tuple[Callable, Callable, Callable] | None = None


def set_communication(world_size: Callable, broadcast: Callable, reducer: Callable) -> None:
    """Called by chainrule.distributed on import: how to ask the world size, broadcast a
    model from rank 0 and build a gradient reducer."""
    global _communication
    _communication = (world_size, broadcast, reducer)


class _AverageAfterBackward(Function):
    """The identity on the wrapper's output; its backward queues the gradient averaging for
    the end of the pass, when every parameter's ``.grad`` is complete (PyTorch's DDP does the
    same through its reducer's hooks and ``queue_callback``)."""

    @staticmethod
    def forward(ctx, x, ddp):
        ctx.ddp = ddp
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        ctx.ddp._queue_reduce()
        return g, None


class DistributedDataParallel(Module):
    """``module`` trained data-parallel over the MPI ranks (a pass-through in one process).

    Args:
        module: the model, reachable as ``.module`` (state dict keys ``module.<name>``).
        device_ids, output_device, process_group, ...: accepted as PyTorch's; the devices must
            be the CPU (None).
        broadcast_buffers: whether buffers (BatchNorm statistics) are taken from rank 0 at
            construction as well as the parameters.
        bucket_cap_mb: the size of the flat buffers summed by one Allreduce each (25 MiB).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if device_ids not in (None, []) or output_device is not None:
            raise ValueError(
                "DistributedDataParallel: device_ids and output_device must be None for a "
                f"CPU module (as in PyTorch), got device_ids={device_ids!r}, "
                f"output_device={output_device!r}"
            )
        self.module = module
        self.dim, self.broadcast_buffers = dim, broadcast_buffers
        self._reducer, self._sync, self._queued = None, True, False
        world = _communication[0]() if _communication is not None else 1
        if world > 1:
            _communication[1](module if broadcast_buffers else list(module.parameters()))
            self._reducer = _communication[2](module.parameters(), bucket_cap_mb or 25.0)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        out = self.module(*inputs, **kwargs)
        if self._reducer is None or not self._sync:
            return out
        return _map_tensors(out, lambda t: _AverageAfterBackward.apply(t, self))

    def _queue_reduce(self) -> None:
        if not self._queued:  # once per backward, whatever the number of outputs
            self._queued = True
            queue_callback(self._reduce)

    def _reduce(self) -> None:
        self._queued = False
        self._reducer.reduce()

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within the block, backward passes accumulate local gradients without averaging;
        the first backward after it averages the accumulated sum (gradient accumulation)."""
        prev, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = prev


def _map_tensors(out: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``fn`` applied to every Tensor that requires grad in a (nested) output."""
    if isinstance(out, Tensor):
        return fn(out) if out.requires_grad else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        return type(out)(*(_map_tensors(o, fn) for o in out))
    if isinstance(out, (list, tuple)):
        return type(out)(_map_tensors(o, fn) for o in out)
    if isinstance(out, dict):
        return {k: _map_tensors(v, fn) for k, v in out.items()}
    return out
