"""The errors chainrule raises, and where in the user's code they came from."""

from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class ShapeError(ValueError):
    """An op was given inputs whose shapes it cannot combine."""


class GradcheckError(AssertionError):
    """The analytical gradient of a function disagrees with its numerical estimate."""


class AnomalyError(RuntimeError):
    """``detect_anomaly`` found a NaN or Inf in a forward or backward result."""


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
