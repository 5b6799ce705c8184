"""PyTorch's process-group API (``torch.distributed``'s ``init_process_group``, ``get_rank``, ...)
on chainrule's MPI world, so that programs written for ``torch.distributed`` run unchanged.

What it means here:

- The ranks meet through MPI: a program launched by ``mpirun -n N`` (or ``srun``) gets its rank
  and world size from MPI, and ``init_process_group`` checks that what the program says
  (``world_size=``, ``rank=``, the ``WORLD_SIZE``/``RANK`` variables that torchrun sets) agrees.
  chainrule has no TCP rendezvous: a world of several processes *not* started by ``mpirun``
  (torchrun, ``init_method="tcp://..."``) is refused, saying to launch with ``mpirun``.
- A process alone (no launcher, ``world_size=1``) forms a group of one, as PyTorch's gloo with
  ``world_size=1``: every collective leaves its tensors as they are.
- ``backend``: ``"mpi"``, ``"gloo"`` (and ``"cpu:gloo"``, ``"cpu:gloo,cuda:nccl"``) all run on
  MPI on the CPU; ``"nccl"`` is refused (chainrule has no GPU). ``timeout`` is accepted and not
  enforced (MPI collectives have no time-out; bound a job with ``mpirun --timeout``).
- As in PyTorch, ``get_rank``/``get_world_size``/``get_backend`` and the collectives raise
  ``ValueError`` before ``init_process_group``, and ``is_initialized()`` is False until then.
  chainrule's own names (``init()``, ``rank()``, ``world_size()``, ``barrier()``) need no
  ``init_process_group`` and keep working alone.
"""

from __future__ import annotations

import datetime
import enum
import os
from typing import Any

from chainrule.distributed import comm
from chainrule.errors import user_line

__all__ = [
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "barrier",
    "default_group",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
]

# The backends a CPU program may name; each runs on MPI here. "cpu:gloo,cuda:nccl" is what
# PyTorch picks for backend=None on a machine with a GPU; its CPU half is gloo.
_CPU_BACKENDS = ("mpi", "gloo", "cpu:gloo", "cpu:mpi", "cpu:gloo,cuda:nccl")
_GPU_BACKENDS = ("nccl", "cuda:nccl", "xccl", "hccl", "ucc")


class _RedOpType(enum.IntEnum):
    """PyTorch's ``ReduceOp.RedOpType``: the reductions, numbered as PyTorch numbers them."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values, element-wise:
    ``SUM``, ``AVG`` (the sum divided by the world size; floating point only), ``PRODUCT``,
    ``MIN``, ``MAX``, and for integer and bool tensors ``BAND``, ``BOR``, ``BXOR``."""

    RedOpType = _RedOpType
    SUM = _RedOpType.SUM
    AVG = _RedOpType.AVG
    PRODUCT = _RedOpType.PRODUCT
    MIN = _RedOpType.MIN
    MAX = _RedOpType.MAX
    BAND = _RedOpType.BAND
    BOR = _RedOpType.BOR
    BXOR = _RedOpType.BXOR


class ProcessGroup:
    """The default group: every rank of the MPI world (``group.WORLD``). ``rank()`` and
    ``size()`` as PyTorch's ProcessGroup."""

    def __init__(self, rank: int, size: int, backend: str) -> None:
        self._rank, self._size, self._backend = rank, size, backend

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def name(self) -> str:
        return self._backend

    def __repr__(self) -> str:
        return f"ProcessGroup(rank={self._rank}, size={self._size}, backend={self._backend!r})"


class Work:
    """What a collective called with ``async_op=True`` returns. chainrule's collectives finish
    before they return, so ``wait()`` has nothing left to wait for."""

    def wait(self, timeout: Any = None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True


_default: ProcessGroup | None = None


class _GroupMember:
    """``dist.group.WORLD`` (also ``dist.GroupMember.WORLD``): the default group once
    ``init_process_group`` has run, None before."""

    @property
    def WORLD(self) -> ProcessGroup | None:
        return _default


group = _GroupMember()
GroupMember = group


def is_available() -> bool:
    """True: chainrule's distributed package is always there (a lone process needs no MPI)."""
    return True


def is_nccl_available() -> bool:
    """False: chainrule has no GPU backend."""
    return False


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (what worlds of several processes need)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` not since), as
    PyTorch's. (``comm.is_initialized`` says whether chainrule's MPI world has been joined.)"""
    return _default is not None


def default_group(op: str, group: Any = None) -> ProcessGroup:
    """The default group, for ``op`` (a function of this API) called with ``group``.

    Raises:
        ValueError: before ``init_process_group`` (PyTorch's words), or ``group`` is another
            object than None or ``group.WORLD`` (chainrule has no ``new_group``).
    """
    if _default is None:
        raise ValueError(
            f"{op}: Default process group has not been initialized, please make sure to call "
            f"init_process_group.\n  at {user_line()}"
        )
    if group is not None and group is not _default:
        raise ValueError(
            f"{op}: Group {group!r} is not registered; chainrule has the default group only "
            f"(group=None or dist.group.WORLD)\n  at {user_line()}"
        )
    return _default


def get_rank(group: Any = None) -> int:
    """This process's rank in the default group, 0 .. world size - 1."""
    return default_group("get_rank", group).rank()


def get_world_size(group: Any = None) -> int:
    """The number of processes in the default group."""
    return default_group("get_world_size", group).size()


def get_backend(group: Any = None) -> str:
    """The backend named at ``init_process_group`` (``"mpi"`` when none was): what the
    program asked for; every one of them runs on MPI here."""
    return default_group("get_backend", group).name()


def barrier(
    group: Any = None, async_op: bool = False, device_ids: Any = None, timeout: Any = None
) -> Work | None:
    """Waits until every rank has reached this line. Unlike PyTorch's it also works before
    ``init_process_group`` (chainrule's ``barrier()``, on the MPI world)."""
    if _default is not None:
        default_group("barrier", group)
    comm.barrier()
    return Work() if async_op else None


def destroy_process_group(group: Any = None) -> None:
    """Ends the default group: ``is_initialized()`` is False again and ``init_process_group``
    may run again. MPI itself stays up (it ends with the process).

    Raises:
        AssertionError: no group to destroy (PyTorch's kind and words).
    """
    global _default
    if _default is None:
        raise AssertionError(
            f"destroy_process_group: Process group cannot be None: init_process_group has not "
            f"run (or the group was destroyed already)\n  at {user_line()}"
        )
    default_group("destroy_process_group", group)
    _default = None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Forms the default group of every process of the job, as PyTorch's.

    Under ``mpirun -n N`` the rank and world size are MPI's; ``world_size``/``rank`` (or the
    ``WORLD_SIZE``/``RANK`` variables) may be given and must agree. Alone, the group is of one
    process (rank 0). ``init_method`` and ``group_name`` are accepted: MPI has made the world
    already.

    Raises:
        ValueError: called twice without ``destroy_process_group``; a rank or world size that
            contradicts MPI's.
        RuntimeError: ``backend="nccl"`` (no GPU); a world of several processes that ``mpirun``
            did not start; a ``store`` (chainrule has none) or a GPU ``device_id``.
        AssertionError: an unknown backend name (PyTorch's kind).
        TypeError: ``timeout`` other than a ``datetime.timedelta``.
    """
    global _default
    if _default is not None:
        raise ValueError(
            "init_process_group: trying to initialize the default process group twice! "
            f"(call destroy_process_group() first)\n  at {user_line()}"
        )
    name = _check_backend(backend)
    _check_options(timeout, store, device_id)
    want_size = _given("world_size", world_size, "WORLD_SIZE")
    want_rank = _given("rank", rank, "RANK")
    my_rank, size = comm.init()
    if not comm.launched():
        _check_alone(want_size, want_rank)
    _check_agrees(want_size, want_rank, my_rank, size)
    _default = ProcessGroup(my_rank, size, name)


def _check_backend(backend: Any) -> str:
    """The backend's name in lower case; refuses GPU and unknown backends."""
    if backend is None:
        return "mpi"
    if not isinstance(backend, str):
        raise ValueError(
            f"init_process_group: Backend name must be a string, but got {backend!r}\n"
            f"  at {user_line()}"
        )
    name = backend.lower()
    if name in _CPU_BACKENDS:
        return "gloo" if name.startswith("cpu:gloo") else name.removeprefix("cpu:")
    if name in _GPU_BACKENDS:
        raise RuntimeError(
            f"init_process_group: backend {backend!r} needs GPUs, and chainrule runs on the CPU "
            f"only; use backend='gloo' or 'mpi' (both run on MPI here)\n  at {user_line()}"
        )
    raise AssertionError(
        f"init_process_group: Unknown backend type {backend!r}; expected one of "
        f"{', '.join(repr(b) for b in _CPU_BACKENDS)}\n  at {user_line()}"
    )


def _check_options(timeout: Any, store: Any, device_id: Any) -> None:
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        raise TypeError(
            f"init_process_group: timeout must be a datetime.timedelta, got "
            f"{type(timeout).__name__} {timeout!r}\n  at {user_line()}"
        )
    if store is not None:
        raise RuntimeError(
            f"init_process_group: store= is not supported: chainrule's processes meet through "
            f"MPI, not a key-value store; launch with mpirun and leave store out\n"
            f"  at {user_line()}"
        )
    if device_id is not None and getattr(device_id, "type", device_id) not in ("cpu", "cpu:0"):
        raise RuntimeError(
            f"init_process_group: device_id={device_id!r}: chainrule runs on the CPU only\n"
            f"  at {user_line()}"
        )


def _given(arg: str, value: int, var: str) -> tuple[int, str] | None:
    """What the program says the world size or rank is (the argument, else the environment
    variable torchrun sets), with where it came from; None if it says nothing."""
    if value is not None and int(value) != -1:
        return int(value), f"{arg}={int(value)}"
    text = os.environ.get(var, "").strip()
    if not text:
        return None
    try:
        return int(text), f"{var}={text} in the environment"
    except ValueError:
        raise ValueError(
            f"init_process_group: the environment variable {var} must be an integer, got "
            f"{text!r}\n  at {user_line()}"
        ) from None


def _check_alone(want_size: tuple[int, str] | None, want_rank: tuple[int, str] | None) -> None:
    """Without a launcher only a world of one can be formed."""
    if want_size is not None and want_size[0] > 1:
        raise RuntimeError(
            f"init_process_group: {want_size[1]} asks for {want_size[0]} processes, but this "
            f"one was not started by mpirun: chainrule's processes meet through MPI and it has "
            f"no TCP rendezvous (torchrun, init_method='tcp://...'). Launch the program with "
            f"`mpirun -n {want_size[0]} python script.py`, or ask for world_size=1\n"
            f"  at {user_line()}"
        )
    if want_rank is not None and want_rank[0] != 0:
        raise ValueError(
            f"init_process_group: {want_rank[1]}, but a process not started by mpirun is rank "
            f"0 of a world of 1\n  at {user_line()}"
        )


def _check_agrees(
    want_size: tuple[int, str] | None, want_rank: tuple[int, str] | None, rank: int, size: int
) -> None:
    """The program's idea of the world must be MPI's (else ranks would wait on each other)."""
    if want_size is not None and want_size[0] != size:
        raise ValueError(
            f"init_process_group: {want_size[1]}, but mpirun started {size} processes; "
            f"leave world_size out (it is MPI's) or launch with mpirun -n {want_size[0]}\n"
            f"  at {user_line()}"
        )
    if want_rank is not None and want_rank[0] != rank:
        raise ValueError(
            f"init_process_group: {want_rank[1]}, but MPI made this process rank {rank} of "
            f"{size}; leave rank out (it is MPI's)\n  at {user_line()}"
        )
