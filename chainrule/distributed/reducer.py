"""Gradient averaging across ranks: ``GradientReducer`` (call it between ``backward()`` and
``step()``) and ``DistributedOptimizer`` (an optimiser whose ``step()`` does that first).

Data-parallel training gives each of the R ranks its own B examples; the gradient of the mean
loss over all R·B examples is the mean of the R per-rank gradients, so after every rank
replaces its gradients by that mean, the same optimiser step on the same parameters keeps all
ranks identical, and equal to one process training with batch R·B.

One Allreduce per parameter would pay MPI's latency once per tensor (a ResNet has ~160); the
gradients are instead copied into a few large flat buffers ("buckets", 25 MiB by default, as
PyTorch's DistributedDataParallel), each summed across ranks by one ``MPI_Allreduce`` in place,
divided by R, and copied back. Each bucket carries, after its gradients, one number per
parameter: 1 where this rank has a gradient, 0 where its ``grad`` is None. Summed, it says
whether any rank had one, so a parameter no rank used keeps ``grad = None`` (and the optimiser
skips it, as it would in one process), with no extra MPI call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.distributed import comm as _comm
from chainrule.optim.optimizer import Optimizer

__all__ = ["DistributedOptimizer", "GradientReducer"]

_MIB = 2**20


class _Bucket:
    """One flat buffer: the gradients of ``params`` back to back, then one flag per parameter."""

    def __init__(self, params: list[Tensor], index: list[int], dtype: xp.dtype) -> None:
        self.params = params
        self.index = index  # positions in the reducer's parameter list
        self.dtype = dtype
        self.sizes = [p._data.size for p in params]
        self.offsets = xp.concatenate([[0], xp.cumsum(self.sizes)]).astype(int).tolist()
        self.numel = self.offsets[-1]
        self.buffer = xp.empty(self.numel + len(params), dtype=dtype)

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes


def _reduce_dtype_of(param_dtype: xp.dtype, reduce_dtype: xp.dtype | None) -> xp.dtype:
    if reduce_dtype is not None:
        return reduce_dtype
    # MPI has no half-precision type: float16 gradients are summed in float32.
    return xp.dtype(xp.float32) if param_dtype == xp.float16 else param_dtype


def _plan(params: list[Tensor], cap_bytes: int, reduce_dtype: xp.dtype | None) -> list[_Bucket]:
    """Buckets in parameter order, one dtype each, each at most ``cap_bytes`` unless a single
    parameter is larger (then it is a bucket of its own)."""
    open_: dict[xp.dtype, tuple[list[Tensor], list[int], int]] = {}
    buckets: list[_Bucket] = []
    for i, p in enumerate(params):
        dt = _reduce_dtype_of(p._data.dtype, reduce_dtype)
        nbytes = p._data.size * dt.itemsize
        plist, ilist, used = open_.get(dt, ([], [], 0))
        if plist and used + nbytes > cap_bytes:
            buckets.append(_Bucket(plist, ilist, dt))
            plist, ilist, used = [], [], 0
        open_[dt] = ([*plist, p], [*ilist, i], used + nbytes)
    buckets += [_Bucket(plist, ilist, dt) for dt, (plist, ilist, _) in open_.items() if plist]
    return sorted(buckets, key=lambda b: b.index[0])


class GradientReducer:
    """Averages the gradients of ``parameters`` across all ranks, in place: after
    ``reduce()``, every rank's ``p.grad`` is the mean over ranks of the ranks' ``p.grad``
    (a rank whose ``p.grad`` is None contributes zeros; if no rank has one it stays None).

    Args:
        parameters: the tensors to average (``model.parameters()``), in the same order on every
            rank (``check_same_model`` checks that).
        bucket_cap_mb: the size of a flat buffer, in MiB (2**20 bytes); one Allreduce each.
        reduce_dtype: sum in this dtype whatever the parameters' (e.g. ``"float32"``: half the
            traffic of float64 parameters, or more accuracy for float16 ones). None: each
            parameter's own dtype (float16 in float32, which MPI lacks). The averaged gradient
            is cast back to the parameter's dtype.

    Attributes:
        seconds: time spent inside ``MPI_Allreduce`` since the last ``reset_stats()``,
            including the wait for the slowest rank to arrive.
        steps: ``reduce()`` calls since then.

    In a world of one process ``reduce()`` returns at once, touching nothing.

    Example::

        reducer = GradientReducer(model.parameters())
        loss.backward()
        reducer.reduce()        # gradients are now the mean over ranks
        optimizer.step()
    """

    def __init__(
        self,
        parameters: Iterable[Tensor],
        bucket_cap_mb: float = 25.0,
        reduce_dtype: Any = None,
    ) -> None:
        params: list[Tensor] = []
        seen: set[int] = set()
        for i, p in enumerate(parameters):
            if not isinstance(p, Tensor):
                raise TypeError(f"GradientReducer: parameter {i} is a {type(p).__name__}")
            if id(p) not in seen:  # a shared parameter is averaged once
                seen.add(id(p))
                params.append(p)
        if not bucket_cap_mb > 0:
            raise ValueError(f"GradientReducer: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        rd = None if reduce_dtype is None else xp.dtype(reduce_dtype)
        if rd is not None and rd.kind != "f":
            raise TypeError(f"GradientReducer: reduce_dtype must be a float dtype, got {rd}")
        self.params = params
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.reduce_dtype = rd
        self.world_size = _comm.world_size()
        self._buckets = _plan(params, int(bucket_cap_mb * _MIB), rd)
        self.reset_stats()

    @property
    def buckets(self) -> list[dict[str, Any]]:
        """The layout: for each bucket its dtype, parameter positions and size in bytes."""
        return [
            {"dtype": str(b.dtype), "params": list(b.index), "nbytes": b.nbytes}
            for b in self._buckets
        ]

    def reset_stats(self) -> None:
        """Zeroes ``seconds`` and ``steps``."""
        self.seconds = 0.0
        self.steps = 0

    def reduce(self) -> None:
        """Replaces every parameter's gradient by its mean over the ranks (collective: every
        rank must call it, once per step, after ``backward()``)."""
        if self.world_size == 1:
            return
        from mpi4py import MPI

        comm = _comm.get_comm()
        for b in self._buckets:
            buf, flags = b.buffer, b.buffer[b.numel :]
            for k, p in enumerate(b.params):
                lo, hi = b.offsets[k], b.offsets[k + 1]
                g = p.grad
                if g is None:
                    buf[lo:hi] = 0
                    flags[k] = 0
                else:
                    g = g._data if isinstance(g, Tensor) else xp.asarray(g)
                    if g.shape != p._data.shape:
                        raise ValueError(
                            f"GradientReducer: parameter {b.index[k]} has shape "
                            f"{p._data.shape} but its grad has shape {g.shape}"
                        )
                    xp.copyto(buf[lo:hi], g.reshape(-1), casting="unsafe")
                    flags[k] = 1
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            self.seconds += time.perf_counter() - t0
            grads = buf[: b.numel]
            grads /= self.world_size
            for k, p in enumerate(b.params):
                if flags[k] == 0:
                    p.grad = None  # no rank had a gradient: the optimiser skips it
                    continue
                lo, hi = b.offsets[k], b.offsets[k + 1]
                # A copy, so that the next step's packing never changes a gradient handed out.
                p.grad = constant(grads[lo:hi].reshape(p._data.shape).astype(p._data.dtype))
        self.steps += 1


class DistributedOptimizer(Optimizer):
    """An optimiser whose ``step()`` first averages the gradients across ranks (Horovod's
    ``DistributedOptimizer``): wrap the optimiser and leave the training loop as it is.

    ``param_groups``, ``state``, ``zero_grad``, ``state_dict`` and ``load_state_dict`` are the
    wrapped optimiser's (a checkpoint of either is the same), so learning-rate schedulers work
    on it. With one process ``step()`` is exactly the wrapped optimiser's.

    Args:
        optimizer: the optimiser to wrap (e.g. ``cr.optim.Adam(model.parameters())``).
        bucket_cap_mb, reduce_dtype: as in ``GradientReducer``.

    Attributes:
        reducer: the ``GradientReducer`` (its ``seconds`` tell the time spent in Allreduce).

    Example::

        optimizer = cr.distributed.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1))
        loss.backward()
        optimizer.step()        # Allreduce of the gradients, then the SGD update
    """

    def __init__(
        self, optimizer: Optimizer, bucket_cap_mb: float = 25.0, reduce_dtype: Any = None
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"DistributedOptimizer: expected a chainrule optimiser, got "
                f"{type(optimizer).__name__}"
            )
        # The base class's __init__ is not called: groups and state live in the wrapped one.
        self.optimizer = optimizer
        self._bucket_cap_mb = bucket_cap_mb
        self._reduce_dtype = reduce_dtype
        self.reducer = self._make_reducer()

    def _make_reducer(self) -> GradientReducer:
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        return GradientReducer(params, self._bucket_cap_mb, self._reduce_dtype)

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    @property
    def state(self) -> dict[int, dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        return self.optimizer.defaults

    def add_param_group(self, param_group: Any) -> None:
        """Adds a group to the wrapped optimiser (on every rank alike) and re-plans buckets."""
        self.optimizer.add_param_group(param_group)
        self.reducer = self._make_reducer()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Runs ``closure`` (forward and backward) if given, averages the gradients across
        ranks, then takes the wrapped optimiser's step. Returns the closure's value."""
        loss = self._evaluate(closure)
        self.reducer.reduce()
        self.optimizer.step()
        return loss

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: Any) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"
