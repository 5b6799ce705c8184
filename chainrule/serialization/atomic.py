"""Atomic writes: a file is written under a temporary name beside its target, made durable
(fsync) and renamed over it, so that a crash or a kill leaves the old file or the new one."""

from __future__ import annotations

import os
import re
import secrets
from typing import Any


def write_atomically(path: str | os.PathLike, write: Any, who: str) -> None:
    """Calls ``write(tmp)`` to fill a temporary file beside ``path``, makes it durable (fsync)
    and renames it over ``path``: a crash or a kill at any moment leaves the old file or the new
    one, never half of one. Temporaries that killed writers left behind are removed first.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist (``who`` names the caller).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{who}: cannot write {path!r}: the directory {directory!r} does not exist"
        )
    _remove_stale_temporaries(directory, os.path.basename(path))
    tmp = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as open() does.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Deletes the temporary files ``.NAME.PID.HEX.tmp`` that a killed ``save`` of ``name`` left
    in ``directory`` (a kill cannot run the cleanup): those whose process no longer exists.
    A live process's file is left alone, since it may be writing it now."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]+\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m is None or _process_alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass  # removed by another run meanwhile, or not ours to remove


def _process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no pid is that large
        return False
    except OSError:
        return True  # exists under another user, or cannot tell: keep the file
    return True


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable (POSIX: the directory entry lives in the directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)
