"""One writer per run folder: ``chainrule train`` and ``chainrule caption train`` hold an OS
lock on ``OUT/.chainrule.lock`` for the whole run, so that a second run on the same ``--out``
is refused at once (naming the folder and the process that holds it) instead of writing a
model and a checkpoint of one epoch from two runs side by side.

The lock is ``fcntl.flock`` on an open file: the kernel drops it when the process ends, however
it ends, so a killed run leaves no stale lock and ``--resume`` continues as before. The file
itself stays (it holds the last holder's process id, for the message only).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator

from chainrule.errors import NotARegularFileError
from chainrule.serialization.atomic import check_writable, file_kind

LOCK_NAME = ".chainrule.lock"
# What the trainers write into OUT (each atomically), checked before a run starts.
OUTPUTS = ("checkpoint.safetensors", "model.safetensors", "metrics.jsonl", "curves.png")


class RunFolderInUse(RuntimeError):
    """Another process holds the run folder's lock: it is training into that folder now."""


def check_run_folder(out: str) -> None:
    """Refuses an ``--out`` that names something other than a folder (or nothing), and one
    whose output files (``OUTPUTS``) or lock file are devices, FIFOs, sockets or folders, so
    that a run is refused before it computes anything, rather than when it first saves.

    Raises:
        NotADirectoryError: ``out`` is a regular file. NotARegularFileError: a device, FIFO or
            socket. IsADirectoryError, NotARegularFileError: an output file inside is not one.
    """
    try:
        mode = os.stat(out).st_mode
    except OSError:
        mode = None  # nothing there: it is made
    if mode is not None and not stat.S_ISDIR(mode):
        error = NotADirectoryError if stat.S_ISREG(mode) else NotARegularFileError
        raise error(f"--out {out} is {_kind(mode)}, not a folder; give a folder's path")
    for name in (*OUTPUTS, LOCK_NAME):
        check_writable(os.path.join(out, name), "--out")


def _kind(mode: int) -> str:
    return "a regular file" if stat.S_ISREG(mode) else file_kind(mode)


@contextlib.contextmanager
def hold(out: str | None) -> Iterator[None]:
    """Checks ``out`` (``check_run_folder``), makes it, and holds its lock until the block
    ends; ``out=None`` holds nothing (the ranks of a data-parallel run that write nothing).
    At the end the lock file is removed, and the folder too if this run made it and wrote
    nothing into it (a run refused before training leaves nothing behind).

    Raises:
        RunFolderInUse: another process holds the lock; the message names the folder and the
            process id that process wrote into the lock file.
    """
    if out is None:
        yield
        return
    check_run_folder(out)
    made = not os.path.isdir(out)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, LOCK_NAME)
    fd = _lock(path, out)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still held: a run waiting on it then finds it gone
        os.close(fd)  # drops the lock
        if made:
            with contextlib.suppress(OSError):
                os.rmdir(out)  # only if empty


def _lock(path: str, out: str) -> int:
    """An open descriptor of the lock file ``path``, exclusively locked. A lock taken on a
    file that its holder removed meanwhile (at its end) is not the folder's: taken again. On
    a filesystem that has no locks (some network ones) the run goes on without one."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            holder = text if text.isdigit() else "unknown"  # the file is anyone's to write
            os.close(fd)
            raise RunFolderInUse(
                f"the folder {out} is in use by another run (process {holder}); wait "
                "for it to end, or give another --out"
            ) from None
        except OSError as e:
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            return fd
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
