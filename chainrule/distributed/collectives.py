"""PyTorch's collectives on tensors (``torch.distributed.all_reduce``, ``broadcast``,
``all_gather``, ...) over MPI, with PyTorch's meaning: each writes its result **in place** into
the tensors it is given, on every rank, and returns None (a ``Work`` with ``async_op=True``).

They need ``init_process_group`` first, as in PyTorch. The tensors are written as PyTorch's
collectives write them: outside autograd (no graph is recorded, a leaf that requires grad may be
written) and without a new version. In a group of one process every tensor is left as it is
(``all_gather`` copies the tensor into the one-entry list).

float16 and bfloat16, which MPI lacks, are reduced in float32; bools as 0/1 integers (``SUM``
and ``MAX`` are a logical or, ``PRODUCT`` and ``MIN`` a logical and).
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.distributed import comm
from chainrule.distributed.process_group import ReduceOp, Work, default_group
from chainrule.errors import user_line

__all__ = [
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "broadcast",
    "broadcast_object_list",
    "reduce_scatter",
]

_BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


def all_reduce(
    tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """Replaces ``tensor`` on every rank by the element-wise ``op`` of all ranks' tensors
    (same shape and dtype on every rank), e.g. the sum of the ranks' gradients.

    Raises:
        ValueError: before ``init_process_group``.
        TypeError: ``tensor`` is not a Tensor; ``op`` is not a ``ReduceOp``.
        RuntimeError: ``AVG`` of an integer tensor, a bitwise op on floating point.
    """
    _check_tensor("all_reduce", "tensor", tensor)
    pg = default_group("all_reduce", group)
    _write("all_reduce", tensor, _reduce("all_reduce", tensor._data, op, pg.size()))
    return Work() if async_op else None


def broadcast(
    tensor: Tensor,
    src: int | None = None,
    group: Any = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Work | None:
    """Replaces ``tensor`` on every rank by rank ``src``'s (same shape and dtype everywhere).

    Raises:
        ValueError: before ``init_process_group``; neither ``src`` nor ``group_src`` given.
        RuntimeError: ``src`` is not a rank of the group.
    """
    _check_tensor("broadcast", "tensor", tensor)
    pg = default_group("broadcast", group)
    root = _root("broadcast", src, group_src, pg.size())
    world = comm.get_comm()
    if world is not None:
        buf = xp.ascontiguousarray(tensor._data)
        world.Bcast(_bytes(buf), root=root)
        _write("broadcast", tensor, buf)
    return Work() if async_op else None


def all_gather(
    tensor_list: list[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Fills ``tensor_list[r]`` (one tensor per rank, each of ``tensor``'s shape and dtype)
    with rank ``r``'s ``tensor``, on every rank.

    Raises:
        TypeError: ``tensor_list`` is not a list of Tensors.
        RuntimeError: the list's length is not the world size, or an entry's shape is not
            ``tensor``'s.
        ValueError: an entry's dtype is not ``tensor``'s.
    """
    _check_tensor("all_gather", "tensor", tensor)
    _check_list("all_gather", "tensor_list", tensor_list)
    size = default_group("all_gather", group).size()
    if len(tensor_list) != size:
        raise RuntimeError(
            f"all_gather: invalid output tensor list (expected length {size}, the world size, "
            f"got {len(tensor_list)})\n  at {user_line()}"
        )
    for i, out in enumerate(tensor_list):
        _check_like("all_gather", f"tensor_list[{i}]", out, tensor)
    for out, value in zip(tensor_list, _gather(tensor._data, size)):
        _write("all_gather", out, value)
    return Work() if async_op else None


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group: Any = None, async_op: bool = False
) -> Work | None:
    """Writes the ranks' ``input_tensor`` (shape S) into ``output_tensor`` in rank order: an
    output of shape ``(world * S[0], *S[1:])`` is their concatenation, ``(world, *S)`` their
    stack."""
    _check_tensor("all_gather_into_tensor", "input_tensor", input_tensor)
    _check_tensor("all_gather_into_tensor", "output_tensor", output_tensor)
    size = default_group("all_gather_into_tensor", group).size()
    if output_tensor.numel() != size * input_tensor.numel():
        raise ValueError(
            f"all_gather_into_tensor: output tensor size must be equal to world_size times input "
            f"tensor size: expected {size} x {input_tensor.numel()} elements, got an output of "
            f"shape {tuple(output_tensor.shape)}\n  at {user_line()}"
        )
    _check_dtype("all_gather_into_tensor", "output_tensor", output_tensor, input_tensor)
    gathered = xp.stack(_gather(input_tensor._data, size))
    _write("all_gather_into_tensor", output_tensor, gathered.reshape(output_tensor.shape))
    return Work() if async_op else None


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: Any = ReduceOp.SUM,
    group: Any = None,
    async_op: bool = False,
) -> Work | None:
    """Writes into ``output`` on rank r the element-wise ``op`` over the ranks of their
    ``input_list[r]`` (one tensor per rank, each of ``output``'s shape and dtype)."""
    _check_tensor("reduce_scatter", "output", output)
    _check_list("reduce_scatter", "input_list", input_list)
    pg = default_group("reduce_scatter", group)
    if len(input_list) != pg.size():
        raise RuntimeError(
            f"reduce_scatter: invalid input tensor list size, must be world size ({pg.size()}), "
            f"got {len(input_list)}\n  at {user_line()}"
        )
    for i, t in enumerate(input_list):
        _check_like("reduce_scatter", f"input_list[{i}]", t, output)
    # Every rank reduces the whole stack and keeps its row: world times the traffic of MPI's
    # Reduce_scatter, in exchange for one reduction path (dtype and op handling) for both.
    stacked = xp.stack([t._data for t in input_list])
    _write("reduce_scatter", output, _reduce("reduce_scatter", stacked, op, pg.size())[pg.rank()])
    return Work() if async_op else None


def all_gather_object(object_list: list[Any], obj: Any, group: Any = None) -> None:
    """Fills ``object_list[r]`` (a list of world-size entries) with rank r's ``obj``
    (pickled)."""
    size = default_group("all_gather_object", group).size()
    if len(object_list) != size:
        raise RuntimeError(
            f"all_gather_object: object_list must have world-size ({size}) entries, got "
            f"{len(object_list)}\n  at {user_line()}"
        )
    world = comm.get_comm()
    object_list[:] = world.allgather(obj) if world is not None else [obj]


def broadcast_object_list(
    object_list: list[Any],
    src: int | None = None,
    group: Any = None,
    device: Any = None,
    group_src: int | None = None,
) -> None:
    """Replaces the entries of ``object_list`` (the same length on every rank) by rank
    ``src``'s (pickled)."""
    size = default_group("broadcast_object_list", group).size()
    root = _root("broadcast_object_list", src, group_src, size)
    object_list[:] = comm.broadcast_object(list(object_list), root=root)


# ---------------------------------------------------------------- the work on arrays


def _reduce(op_name: str, arr: xp.ndarray, op: Any, size: int) -> xp.ndarray:
    """The element-wise ``op`` over the ranks of ``arr``, in ``arr``'s dtype."""
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(
            f"{op_name}: op must be a dist.ReduceOp (SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, "
            f"BXOR), got {type(op).__name__} {op!r}\n  at {user_line()}"
        )
    kind = arr.dtype.kind
    if op == ReduceOp.AVG and kind not in "fcV":
        raise RuntimeError(
            f"{op_name}: ReduceOp.AVG of a {arr.dtype} tensor: the mean is floating point and "
            f"cannot be written into it (result type Float can't be cast to the desired output "
            f"type); convert the tensor to float first\n  at {user_line()}"
        )
    if op in _BITWISE and kind not in "iub":
        raise RuntimeError(
            f"{op_name}: Cannot use ReduceOp.{op.name} with non-integral dtype {arr.dtype}\n"
            f"  at {user_line()}"
        )
    world = comm.get_comm()
    if world is None:
        return arr
    from mpi4py import MPI

    mpi_op = {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.BAND: MPI.BAND,
        ReduceOp.BOR: MPI.BOR,
        ReduceOp.BXOR: MPI.BXOR,
    }[op]
    buf = xp.array(arr, dtype=_wire_dtype(arr.dtype), order="C")
    world.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    if op == ReduceOp.AVG:
        buf /= size
    return buf.astype(arr.dtype) if kind != "b" else buf != 0


def _wire_dtype(dtype: xp.dtype) -> xp.dtype:
    """The dtype an MPI reduction runs in: float32 for the half-precision floats MPI lacks
    (float16, ml_dtypes' bfloat16), int64 for bool, the tensor's own otherwise."""
    if dtype.kind == "b":
        return xp.dtype(xp.int64)
    if dtype == xp.float16 or dtype.kind == "V" or dtype.name == "bfloat16":
        return xp.dtype(xp.float32)
    return dtype


def _gather(arr: xp.ndarray, size: int) -> list[xp.ndarray]:
    """Every rank's ``arr`` (same shape and dtype on all), in rank order."""
    world = comm.get_comm()
    if world is None:
        return [arr]
    send = xp.ascontiguousarray(arr)
    recv = xp.empty((size, send.nbytes), dtype=xp.uint8)
    world.Allgather(_bytes(send), recv)
    return [row.view(arr.dtype).reshape(arr.shape) for row in recv]


def _bytes(buf: xp.ndarray) -> xp.ndarray:
    """A C-contiguous array's memory as bytes (any dtype travels, bfloat16 included)."""
    return buf.reshape(-1).view(xp.uint8)


def _write(op: str, tensor: Tensor, value: xp.ndarray) -> None:
    """``tensor``'s storage gets ``value``, seen by every view of it."""
    if value is tensor._data:
        return
    try:
        xp.copyto(tensor._data, value, casting="unsafe")
    except ValueError as exc:  # a read-only array: an expand() or a broadcast view
        raise RuntimeError(
            f"{op}: cannot write the result into this tensor (shape {tuple(tensor.shape)}): "
            f"{exc}; clone() it first\n  at {user_line()}"
        ) from None


def _root(op: str, src: int | None, group_src: int | None, size: int) -> int:
    if src is None and group_src is None:
        raise ValueError(f"{op}: Must specify global_rank or group_rank (src=)\n  at {user_line()}")
    root = int(src if src is not None else group_src)
    if not 0 <= root < size:
        raise RuntimeError(
            f"{op}: invalid root rank: {root} (the group has ranks 0 .. {size - 1})\n"
            f"  at {user_line()}"
        )
    return root


def _check_tensor(op: str, arg: str, value: Any) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{op}: Invalid function argument. Expected parameter `{arg}` of type Tensor but "
            f"got {type(value).__name__} instead\n  at {user_line()}"
        )


def _check_list(op: str, arg: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(t, Tensor) for t in value):
        raise TypeError(
            f"{op}: Invalid function argument. Expected parameter `{arg}` of type "
            f"List[Tensor] but got {type(value).__name__} instead\n  at {user_line()}"
        )


def _check_dtype(op: str, arg: str, t: Tensor, like: Tensor) -> None:
    if t.dtype != like.dtype:
        raise ValueError(
            f"{op}: Invalid usage of tensors with different dtypes: {arg} is {t.dtype}, the "
            f"tensor is {like.dtype}\n  at {user_line()}"
        )


def _check_like(op: str, arg: str, t: Tensor, like: Tensor) -> None:
    """``t`` must have ``like``'s shape (RuntimeError, as PyTorch's) and dtype (ValueError)."""
    if tuple(t.shape) != tuple(like.shape):
        raise RuntimeError(
            f"{op}: invalid tensor size: {arg} has shape {tuple(t.shape)}, expected "
            f"{tuple(like.shape)}\n  at {user_line()}"
        )
    _check_dtype(op, arg, t, like)
