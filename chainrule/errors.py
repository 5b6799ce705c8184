"""The errors chainrule raises, and where in the user's code they came from."""

from __future__ import annotations

import importlib
import os
import stat
import sys
from types import ModuleType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


_AT = "\n  at "


class ShapeError(ValueError):
    """An op was given inputs whose shapes it cannot combine.

    The message ends with the line of the user's code that called the op (``\n  at file:line:
    source``), added here once: a message that already names a line keeps its own.
    """

    def __init__(self, message: str = "", *args) -> None:
        if isinstance(message, str) and _AT not in message:
            message = f"{message}{_AT}{user_line()}"
        super().__init__(message, *args)


def expect(condition: bool, op: str, expected: str, got: object) -> None:
    """The check at an op's boundary, written as what must hold (Chainer's ``type_check``).

    Raises ``ShapeError("{op}: expected {expected}, got {got}")``, with the user's line, unless
    ``condition`` is true. ``expected`` and ``got`` are evaluated by the caller either way, so
    keep them cheap (shapes, not formatted arrays).

    Example:
        expect(w.ndim == 2, "linear", "a 2-D weight", f"shape {w.shape}")
    """
    if not condition:
        raise ShapeError(f"{op}: expected {expected}, got {got}")


class GradcheckError(AssertionError):
    """The analytical gradient of a function disagrees with its numerical estimate."""


class AnomalyError(RuntimeError):
    """``detect_anomaly`` found a NaN or Inf in a forward or backward result."""


class NotARegularFileError(ValueError):
    """A path that should name a file names a FIFO, a device or a socket instead."""


class MissingExtraError(ImportError):
    """A part of chainrule needs a package that one of its extras installs, and it is missing."""


def require_extra(extra: str, module: str) -> ModuleType:
    """``module`` imported, or a ``MissingExtraError`` naming the extra that installs it.

    ``pip install chainrule`` installs only the engine's needs (NumPy, safetensors); the CLI's,
    the captioner's and MPI's packages come with the extras ``cli``, ``caption`` and ``mpi``
    (``setup.sh`` installs ``all``). Code that needs one calls this where it imports it, so that
    ``import chainrule`` never does and a missing package is named with the command to get it.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name is None or e.name.split(".")[0] != top:
            raise  # the package is there but one of its own imports failed: its error says more
        raise MissingExtraError(
            f"{top} is not installed; it comes with chainrule's [{extra}] extra: "
            f"pip install 'chainrule[{extra}]' (or bash setup.sh)"
        ) from None


def regular_file(path: str | os.PathLike, what: str) -> str:
    """``path`` as a string, checked to name a regular file before anything opens it.

    The one check at the boundary where user paths are read (checkpoints, images, data files):
    a FIFO would block ``open()`` forever and a device could be read without end, so only
    regular files (or links to them) pass. ``what`` names the kind of file in the messages
    (``"checkpoint file"``, ``"image file"``).

    Raises:
        FileNotFoundError: nothing at ``path``. IsADirectoryError: a folder.
        NotARegularFileError: a FIFO, device or socket.
    """
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode  # stat never blocks, even on a FIFO
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such {what}") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path}: is a folder, not a {what}; give the file inside it")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "a device")  # fmt: skip
        raise NotARegularFileError(
            f"{path}: is {kind}, not a regular {what}; give a file saved on disk"
        )
    return path


def user_line() -> str:
    """``file:line: source`` of the innermost frame outside the chainrule package.

    Errors point there because that is the line the user wrote; our own frames only show where
    the mistake was noticed.
    """
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE_DIR):
        f = f.f_back
    if f is None:
        return "<unknown>"
    import linecache

    src = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    where = f"{f.f_code.co_filename}:{f.f_lineno}"
    return f"{where}: {src}" if src else where


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the innermost frame outside the
    chainrule package (the user's line), however deep inside the package it is called."""
    import warnings

    f = sys._getframe(1)
    level = 2  # 1 would be this function, 2 its caller
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE_DIR):
        f = f.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level - 1 if f is None else level)
