"""The values of ``--at``: numbers, vectors ``w=[2,-3]``, matrices ``W=[[0.1,0.2],[0.3,0.4]]``
and shapes ``W:30x784`` filled from the seed."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from chainrule.backend import xp
from chainrule.explain.parser import FUNCTIONS, MAX_ELEMENTS, ExplainError, normalize

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_SHAPE = re.compile(r"\s*(\d+(?:\s*[x×]\s*\d+)*)\s*\Z")
MAX_MATRIX = 4096  # numbers of one matrix written out with --at
MAX_FILLED = 1_000_000  # numbers of one input filled from the seed (W:30x784)


@dataclass(frozen=True)
class Filled:
    """An input given by its shape (``W:30x784``): filled with standard normal samples drawn from
    the seed (``--seed``), as Nielsen's network initialises its weights."""

    shape: tuple[int, ...]


def parse_bindings(text: str) -> dict[str, xp.ndarray | Filled]:
    """``"a=2,b=1,w=[2,-3,-3]"`` -> ``{"a": array(2.), "b": array(1.), "w": array([2., -3., -3.])}``.

    Values are float64 scalars, vectors of at most ``MAX_ELEMENTS`` numbers or matrices
    (``W=[[0.1,0.2],[0.3,0.4]]``, rows of equal length); ``W:30x784`` gives a shape to fill from
    the seed (a ``Filled``).
    """
    out: dict[str, xp.ndarray | Filled] = {}
    # Full-width punctuation (，＝［］：) and names as Python reads them (NFKC), as the parser does.
    text = unicodedata.normalize("NFKC", normalize(text))
    for start, item in _split_top(text):
        if "=" not in item and ":" in item:
            name, spec = item.split(":", 1)
            _check_name(name, text, start, out)
            out[name.strip()] = _shape(spec, text, start + len(name) + 1)
            continue
        if "=" not in item:
            raise ExplainError(
                f"--at: expected NAME=VALUE or NAME:SHAPE, got {item.strip()!r}", text, start
            )
        name, value = item.split("=", 1)
        _check_name(name, text, start, out)
        vstart = start + len(name) + 1
        out[name.strip()] = _parse_value(value, text, vstart)
    return out


def _check_name(name: str, text: str, start: int, out: dict) -> None:
    lead = len(name) - len(name.lstrip())
    name = name.strip()
    if not _NAME.match(name) and not (name.isidentifier() and not name.startswith("_")):
        raise ExplainError(f"--at: {name!r} is not a valid name", text, start + lead)
    if name in FUNCTIONS:
        raise ExplainError(f"--at: {name!r} is a function name", text, start + lead)
    if name in out:
        raise ExplainError(f"--at: {name} is given twice", text, start + lead)


def _shape(spec: str, text: str, start: int) -> Filled:
    m = _SHAPE.match(spec)
    if m is None:
        raise ExplainError(
            f"--at: {spec.strip()!r} is not a shape; write NAME:ROWSxCOLS (W:30x784) or NAME:N",
            text,
            start,
        )
    shape = tuple(int(d) for d in re.split(r"\s*[x×]\s*", m.group(1)))
    if len(shape) > 2 or 0 in shape or math.prod(shape) > MAX_FILLED:
        raise ExplainError(
            f"--at: shape {'×'.join(map(str, shape))}: explain takes vectors and matrices of 1 to "
            f"{MAX_FILLED:,} numbers",
            text,
            start,
        )
    return Filled(shape)


def _split_top(text: str) -> list[tuple[int, str]]:
    """Splits on commas outside brackets; returns (offset, piece) pairs."""
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            pieces.append((start, text[start:i]))
            start = i + 1
    pieces.append((start, text[start:]))
    return [(s, p) for s, p in pieces if p.strip()]


def _parse_value(value: str, text: str, start: int) -> xp.ndarray:
    v = value.strip()
    if v.startswith("[[") and v.endswith("]"):
        return _matrix(v, text, start)
    if v.startswith("[") and v.endswith("]"):
        parts = v[1:-1].split(",")
        if len(parts) > MAX_ELEMENTS:
            raise ExplainError(
                f"--at: a vector may have at most {MAX_ELEMENTS} elements, got {len(parts)}",
                text,
                start,
            )
        nums = [_number(p, text, start) for p in parts]
        return xp.array(nums, dtype=xp.float64)
    return xp.array(_number(v, text, start), dtype=xp.float64)


def _matrix(v: str, text: str, start: int) -> xp.ndarray:
    """``[[0.1,0.2],[0.3,0.4]]``: rows of equal length."""
    if v.count("[") > MAX_MATRIX + 1 or v.count(",") > 2 * MAX_MATRIX:
        raise ExplainError(f"--at: a matrix may have at most {MAX_MATRIX} numbers", text, start)
    body = v[1:-1]
    rows = []
    for _, piece in _split_top(body):
        piece = piece.strip()
        if not (piece.startswith("[") and piece.endswith("]")) or "[" in piece[1:-1]:
            raise ExplainError(
                f"--at: {piece!r} is not a row of numbers like [0.1,0.2] (a matrix is a list of "
                "rows)",
                text,
                start,
            )
        rows.append([_number(p, text, start) for p in piece[1:-1].split(",")])
    if len({len(r) for r in rows}) != 1:
        lengths = ", ".join(str(len(r)) for r in rows)
        raise ExplainError(
            f"--at: the rows of a matrix must have one length, got {lengths}", text, start
        )
    return xp.array(rows, dtype=xp.float64)


def _number(s: str, text: str, start: int) -> float:
    s = s.strip()
    if not _NUMBER.match(s):
        raise ExplainError(f"--at: {s!r} is not a number (or a vector like [2,-3])", text, start)
    x = float(s)
    if not math.isfinite(x):
        raise ExplainError(f"--at: {s} is too large", text, start)
    return x
