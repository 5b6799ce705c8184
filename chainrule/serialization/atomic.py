"""Atomic writes: a file is written under a temporary name beside its target, made durable
(fsync) and renamed over it, so that a crash or a kill leaves the old file or the new one.

Every file chainrule writes goes through ``write_atomically`` (checkpoints, ``cr.save``, the
trainers' metrics and curves, ONNX exports, pictures), which never replaces what is not a
regular file: a path naming a device, a FIFO, a socket or a folder is refused in one line
(``check_writable``) before anything is written, since renaming over ``/dev/null`` would replace
the device itself. A stream is never written through: give a file's path.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from typing import Any

from chainrule.errors import NotARegularFileError

# Our temporary files: ``.NAME.PID.HEX.chainrule.tmp``. The writer's process id in the name lets
# the next write into the folder remove those whose writer is dead (a kill runs no cleanup).
_TEMPORARY = re.compile(r"\..*\.(\d+)\.[0-9a-f]{8}\.chainrule\.tmp", re.DOTALL)
_NAME_PART = 100  # characters of the target's name kept in the temporary name (NAME_MAX is 255)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` names, in words ("a character device", "a FIFO (named pipe)", ...)."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def check_writable(path: str | os.PathLike, who: str) -> str:
    """``path`` as a string, checked to name a regular file or nothing (a link is followed, as
    ``open()`` follows it), so that writing it replaces no device, FIFO, socket or folder.

    Call it where a command takes its output paths, before anything is computed; the write
    itself checks again.

    Raises:
        IsADirectoryError: ``path`` names a folder.
        NotARegularFileError: ``path`` names a device, a FIFO or a socket.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode  # stat never opens: it cannot block on a FIFO
    except OSError:
        return path  # nothing there (or unreadable): the write says what is wrong
    if stat.S_ISREG(mode):
        return path
    error = IsADirectoryError if stat.S_ISDIR(mode) else NotARegularFileError
    raise error(
        f"{who}: refusing to write {path}: it is {file_kind(mode)}, not a regular file, and "
        "writing would replace it; give the path of a file"
    )


def write_atomically(path: str | os.PathLike, write: Any, who: str) -> None:
    """Calls ``write(tmp)`` to fill a temporary file beside ``path``, makes it durable (fsync)
    and renames it over ``path``: a crash or a kill at any moment leaves the old file or the new
    one, never half of one. Temporaries that killed writers left in the folder are removed first.

    A new file gets the mode the umask gives (``0o666 & ~umask``, as ``open()`` and
    ``torch.save``); a file replaced keeps its mode, as ``open(path, "w")`` keeps it. A link is
    followed: the file it points to is replaced, the link stays.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist (``who`` names the caller).
        IsADirectoryError, NotARegularFileError: ``path`` is not a regular file (see
            ``check_writable``); nothing is written.
    """
    path = check_writable(path, who)
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{who}: cannot write {path!r}: the directory {directory!r} does not exist"
        )
    name = os.path.basename(target)
    _remove_stale_temporaries(directory, name)
    tmp = os.path.join(
        directory, f".{name[:_NAME_PART]}.{os.getpid()}.{secrets.token_hex(4)}.chainrule.tmp"
    )
    # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as open() does.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        mode = _mode_to_keep(target, tmp)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fchmod(fd, mode)  # also if ``write`` replaced the file (a library's own temporary)
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        check_writable(path, who)  # again: something may have been put there meanwhile
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _mode_to_keep(target: str, tmp: str) -> int:
    """The permission bits the written file gets: the replaced file's, else the new one's
    (read, write and execute only: a set-user-id bit is not carried over to new content)."""
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        return os.stat(tmp).st_mode & 0o777


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Deletes the temporary files that killed writers left in ``directory`` (a kill cannot run
    the cleanup): ours (``.NAME.PID.HEX.chainrule.tmp``, for any NAME) and, for ``name`` only,
    the ``.NAME.PID.HEX.tmp`` of earlier versions, whose process no longer exists. A live
    process's file is left alone, since it may be writing it now."""
    legacy = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]+\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = _TEMPORARY.fullmatch(entry) or legacy.fullmatch(entry)
        if m is None or _process_alive(int(m.group(1))):
            continue
        try:
            if stat.S_ISREG(os.lstat(os.path.join(directory, entry)).st_mode):
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
