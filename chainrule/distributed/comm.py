"""Which process am I, how many are we: MPI start-up, rank and world size, and the few
collectives the rest of ``chainrule.distributed`` and the trainer need.

A process started by ``mpirun``/``mpiexec`` (Open MPI, MPICH, Intel MPI, MVAPICH) or ``srun``
finds its launcher's variables in its environment (``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE``, ...).
Only then is mpi4py imported (importing ``mpi4py.MPI`` is what starts MPI); a plain ``python``
or ``chainrule`` process never pays MPI's start-up, does not need mpi4py installed, and sees
rank 0 of a world of 1, where every collective here is the identity.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chainrule.backend import xp

__all__ = [
    "abort",
    "abort_on_error",
    "all_reduce_sum",
    "barrier",
    "export_torchrun_variables",
    "broadcast_object",
    "gather_object",
    "get_comm",
    "init",
    "is_initialized",
    "is_main",
    "launched",
    "launched_size",
    "on_main",
    "rank",
    "rank_seed",
    "world_size",
]

# Launchers' names for the world size: Open MPI, MPICH/Hydra and Intel MPI, MVAPICH.
_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")

# torchrun's variables, and where each launcher keeps the same numbers: Open MPI, MPICH/Hydra and
# Intel MPI, MVAPICH.
_TORCHRUN_VARS = {
    "RANK": ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK"),
    "WORLD_SIZE": _SIZE_VARS,
    "LOCAL_RANK": ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK"),
    "LOCAL_WORLD_SIZE": (
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "MV2_COMM_WORLD_LOCAL_SIZE",
    ),
}

# How long a rank other than 0 waits before reporting its error and aborting (see abort_on_error).
_ABORT_GRACE_S = 1.0

_comm: Any = None  # mpi4py's COMM_WORLD when the world has more than one process
_rank = 0
_size = 1
_initialized = False


def launched_size() -> int:
    """The number of processes a launcher (``mpirun -n N``) started, read from the
    environment; 1 for a process that no launcher started. Imports nothing."""
    for var in _SIZE_VARS:
        value = os.environ.get(var)
        if value and value.strip().isdigit():
            return int(value)
    return 1


def launched() -> bool:
    """Whether a launcher (``mpirun``, ``srun``) started this process, even as one of 1."""
    return any(os.environ.get(var) for var in _SIZE_VARS)


def export_torchrun_variables() -> dict[str, str]:
    """Sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` (the variables
    torchrun gives each process) from the launcher's own, where the environment lacks them, so
    that a PyTorch program that asks ``os.environ.get("RANK")`` whether it runs distributed
    (nanoGPT does) finds that it does under ``mpirun``. Returns what it set; sets nothing in a
    process that no launcher started. Imports nothing."""
    if not launched():
        return {}
    found: dict[str, str] = {}
    for name, sources in _TORCHRUN_VARS.items():
        value = next((os.environ[v] for v in sources if os.environ.get(v)), None)
        if value is not None and name not in os.environ:
            os.environ[name] = found[name] = value.strip()
    return found


def init() -> tuple[int, int]:
    """Joins the MPI world if this process was launched as one of several; returns
    ``(rank, world_size)``. Calling it again returns the same answer.

    Without a launcher, or with ``mpirun -n 1``, nothing is imported and the answer is
    ``(0, 1)``.

    Raises:
        RuntimeError: launched as one of N > 1 processes but mpi4py is missing, or MPI reports a
            world of another size than the launcher's (mpi4py built against another MPI than the
            ``mpirun`` that started it: every process would otherwise train alone and all of
            them would write the same files).
    """
    global _comm, _rank, _size, _initialized
    if _initialized:
        return _rank, _size
    n = launched_size()
    if n > 1:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(
                f"chainrule.distributed: this process was launched as one of {n} MPI processes "
                f"but mpi4py cannot be imported ({e}); install it in this environment "
                "(pip install 'chainrule[mpi]', or bash setup.sh), or run without mpirun"
            ) from None
        comm = MPI.COMM_WORLD
        if comm.Get_size() != n:
            raise RuntimeError(
                f"chainrule.distributed: the launcher started {n} processes but MPI reports a "
                f"world of {comm.Get_size()}: mpi4py is using another MPI library than the "
                f"mpirun that launched it (mpi4py runs on: "
                f"{MPI.Get_library_version().splitlines()[0].strip()}). Launch with the mpirun "
                "of that library, or reinstall mpi4py against yours"
            )
        _comm, _rank, _size = comm, comm.Get_rank(), comm.Get_size()
    _initialized = True
    return _rank, _size


def is_initialized() -> bool:
    """Whether ``init()`` has run (the getters below call it on first use)."""
    return _initialized


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 for a single process)."""
    return init()[0]


def world_size() -> int:
    """The number of processes training together (1 for a single process)."""
    return init()[1]


def is_main() -> bool:
    """True on rank 0, the process that prints, writes files and checkpoints."""
    return rank() == 0


def get_comm() -> Any:
    """mpi4py's ``COMM_WORLD`` when there are several processes, else None."""
    init()
    return _comm


def rank_seed(seed: int, *extra: int) -> int:
    """A seed for this rank's random generator, derived from ``seed`` (and ``extra``
    integers, e.g. an epoch) so that ranks draw independent streams (dropout masks) that a
    rerun repeats. A 63-bit int."""
    state = xp.random.SeedSequence([int(seed), rank(), *map(int, extra)]).generate_state(2)
    return int((int(state[0]) << 31 | int(state[1])) & (2**63 - 1))


def barrier() -> None:
    """Waits until every rank has reached this line."""
    if world_size() > 1:
        _comm.Barrier()


def all_reduce_sum(values: Sequence[float] | xp.ndarray) -> xp.ndarray:
    """The element-wise sum over ranks of a few numbers (float64 ``(K,)``), the same on every
    rank: e.g. ``[loss_sum, correct, seen]`` of an epoch. For gradients use ``GradientReducer``."""
    buf = xp.array(values, dtype=xp.float64).reshape(-1)
    if world_size() > 1:
        from mpi4py import MPI

        _comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    return buf


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """``obj`` of rank ``root``, on every rank (pickled; for small things and start-up)."""
    if world_size() == 1:
        return obj
    return _comm.bcast(obj, root=root)


def gather_object(obj: Any, root: int = 0) -> list[Any] | None:
    """Every rank's ``obj``, as a list by rank on rank ``root``; None on the others."""
    if world_size() == 1:
        return [obj]
    return _comm.gather(obj, root=root)


def on_main(fn: Callable[[], Any]) -> Any:
    """Runs ``fn()`` on rank 0 only and returns its result on every rank; if it raised, the
    same exception is raised on every rank (so that e.g. a missing checkpoint stops all ranks
    with one error instead of leaving the others waiting). Rank 0 reads a file that only it
    can see (no shared file system needed)."""
    if world_size() == 1:
        return fn()
    outcome: tuple[bool, Any] = (True, None)
    if is_main():
        try:
            outcome = (True, fn())
        except Exception as e:
            outcome = (False, e)
    ok, value = _comm.bcast(outcome, root=0)
    if not ok:
        raise value
    return value


def abort(code: int = 1) -> None:
    """Ends every process of the job now (``MPI_Abort``); a plain ``sys.exit`` when alone."""
    sys.stdout.flush()
    sys.stderr.flush()
    if world_size() > 1:
        _comm.Abort(code)
    sys.exit(code)


@contextmanager
def abort_on_error(
    brief: bool = False, exit_code: int | Callable[[BaseException], int] = 1
) -> Iterator[None]:
    """Turns an exception on one rank into the end of the whole job, instead of a hang.

    Without it, a rank that raises leaves the others blocked for ever in their next
    collective (an Allreduce waits for every rank). Inside this block, an exception on a rank
    of a world of several prints ``rank R of N: <error>`` to stderr (the traceback too, unless
    ``brief``) and calls ``MPI_Abort``, which makes ``mpirun`` end every process and exit
    non-zero. Ranks other than 0 wait a second first, so that an error every rank meets is
    reported once, by rank 0. In a single process the exception propagates unchanged.

    Args:
        brief: print one line (the CLI's style) instead of the traceback.
        exit_code: the code to abort with, or a function of the exception giving it.
    """
    if world_size() == 1:
        yield
        return
    try:
        yield
    except BaseException as e:
        if isinstance(e, SystemExit) and not e.code:
            raise  # a clean exit is no failure
        code = exit_code(e) if callable(exit_code) else exit_code
        if not is_main():
            # An error that every rank meets (a bad --resume) is then told once, by rank 0,
            # whose abort ends this process during the pause; an error of this rank alone is
            # told a moment later.
            time.sleep(_ABORT_GRACE_S)
        where = f"rank {rank()} of {world_size()}"
        if isinstance(e, KeyboardInterrupt):
            text = f"{where}: interrupted"
        elif brief:
            text = f"{where}: error: {str(e).strip() or type(e).__name__}"
        else:
            text = f"{where} failed:\n" + "".join(traceback.format_exception(e)).rstrip()
        print(f"{text}\n{where}: ending the job (MPI_Abort, code {code})", file=sys.stderr)
        abort(code)
