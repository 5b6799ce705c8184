"""The limits on what a safetensors checkpoint may hold, checked on save and on load.

A hostile file could otherwise nest a metadata value 10⁵ deep (a RecursionError that names
nothing), hold a million entries or a header of hundreds of megabytes (gigabytes of Python
objects), or a 5,000-digit number (Python's own "Exceeds the limit" message). Each limit is far
above what a real checkpoint holds, and loading within them stays under 200 MB. ``save`` refuses
what ``load`` would refuse, so that no file written is unreadable; it also refuses cycles,
naming the path that leads back (``obj[2]['a']``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chainrule.backend import xp
from chainrule.serialization.structure import CheckpointError

MAX_DEPTH = 100  # nested dicts, lists and tuples in one saved object or metadata value
MAX_ENTRIES = 50_000  # tensors, dict items and list elements, in one file
MAX_KEY_LENGTH = 4096  # characters of a key or tensor name, digits of a number
MAX_HEADER_BYTES = 16 * 2**20  # the safetensors JSON header (the library's own limit: 100 MB)
# JSON values in a header, counted as its commas and opening brackets (also those inside the
# JSON-encoded metadata values): a tensor's entry takes up to ten, a saved dict three. Bounds
# what parsing a header can build: 500,000 small containers stay within 200 MB.
MAX_HEADER_VALUES = 10 * MAX_ENTRIES
# A saved container costs up to three JSON brackets in the structure ({"$d": [[k, v]]}).
MAX_JSON_DEPTH = 3 * MAX_DEPTH + 2

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]++")
_OPEN = xp.zeros(256, xp.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


class LimitError(CheckpointError):
    """What is saved or loaded goes beyond one of the limits above (the message names it)."""


def json_depth(text: str | bytes) -> int:
    """The deepest nesting of brackets in JSON ``text``, strings skipped; linear, no recursion."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    steps = _OPEN[xp.frombuffer(brackets, xp.uint8)]
    depth, deepest = 0, 0
    for i in range(0, len(steps), 1 << 20):  # in pieces: 16 MB of brackets as int64 is 128 MB
        levels = xp.cumsum(steps[i : i + (1 << 20)], dtype=xp.int64) + depth
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def loads(text: str, where: str) -> Any:
    """``json.loads(text)``, refusing first a nesting deeper than ``MAX_JSON_DEPTH`` and then any
    number longer than ``MAX_KEY_LENGTH`` digits, as ``LimitError`` naming ``where``."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise LimitError(
            f"{where} is nested {depth:,} levels deep, over the limit of {MAX_JSON_DEPTH}"
        )

    def whole(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_KEY_LENGTH:
            raise LimitError(
                f"{where} holds a number of {len(digits):,} digits, over the limit of "
                f"{MAX_KEY_LENGTH:,}"
            )
        return int(digits)

    return json.loads(text, parse_int=whole)


def check_header_bytes(header: bytes, where: str) -> None:
    """Refuses a safetensors JSON header (without its 8-byte length) over the limits, before any
    JSON parser sees it: its size, its values (``MAX_HEADER_VALUES``) and its nesting."""
    if len(header) > MAX_HEADER_BYTES:
        raise LimitError(header_too_large(where, len(header)))
    values = header.count(b",") + header.count(b"[") + header.count(b"{")
    if values > MAX_HEADER_VALUES:
        raise LimitError(f"{where}: its header holds over {MAX_HEADER_VALUES:,} values (the limit)")
    depth = json_depth(header)
    if depth > MAX_DEPTH:
        raise LimitError(
            f"{where}: its header is nested {depth:,} deep, over the limit of {MAX_DEPTH}"
        )


def header_too_large(where: str, size: int) -> str:
    return (
        f"{where}: its header is {size:,} bytes, over the limit of {MAX_HEADER_BYTES:,} bytes; "
        "the file was altered or not written by chainrule"
    )


def check_key(key: Any, where: str, what: str = "key") -> None:
    """Refuses a str key or tensor name over ``MAX_KEY_LENGTH`` characters, or an int over as
    many digits (measured without writing it out: Python refuses ints over 4,300 digits)."""
    if isinstance(key, int):
        digits = _digits(key)
        if digits > MAX_KEY_LENGTH:
            raise LimitError(
                f"{where}: an int {what} of {digits:,} digits, over the limit of {MAX_KEY_LENGTH:,}"
            )
        return
    if len(key) > MAX_KEY_LENGTH:
        raise LimitError(
            f"{where}: the {what} {key[:20]!r}... is {len(key):,} characters long, over the "
            f"limit of {MAX_KEY_LENGTH:,}"
        )


def _digits(n: int) -> int:
    """The decimal digits of ``n``, by arithmetic (``str`` refuses ints over 4,300 digits)."""
    n = abs(n)
    digits = int(max(n.bit_length() - 1, 0) * 0.30102999566398120) + 1  # at most one short
    return digits + (n >= 10**digits)


def check_saved(obj: Any, where: str, root: str = "obj", sizes: bool = True) -> None:
    """Refuses an object that ``save`` would write beyond the limits, or that refers to itself:
    containers nested over ``MAX_DEPTH`` deep, over ``MAX_ENTRIES`` entries in all, a key or a
    number over ``MAX_KEY_LENGTH``, a cycle (named by the path that leads back to where it
    starts). Walks iteratively: no depth of nesting raises RecursionError here. ``sizes=False``
    checks the depth, the cycles and the keys only (PyTorch's format stores any number of
    entries, and any int as a value).

    Raises:
        LimitError: the message starts with ``where`` and names the path (``root[2]['a']``).
    """
    # A path is (parent path, key), written out only for a message: a deep, wide object would
    # otherwise hold one long string per entry.
    stack: list[tuple[Any, Any, int, bool]] = [(obj, None, 0, False)]
    on_path: dict[int, Any] = {}  # id of each container being walked -> its path
    entries = 0
    while stack:
        node, path, depth, leaving = stack.pop()
        if leaving:
            del on_path[id(node)]
            continue
        if sizes and isinstance(node, int) and not isinstance(node, bool):
            check_key(node, f"{where}: {_written(root, path)}", "value")
        if not isinstance(node, (Mapping, list, tuple)):
            continue
        if id(node) in on_path:
            raise LimitError(
                f"{where}: {_written(root, path)} is {_written(root, on_path[id(node)])} "
                "itself, a cycle; a checkpoint holds trees of containers, without cycles"
            )
        if depth >= MAX_DEPTH:
            raise LimitError(
                f"{where}: {_written(root, path)} is nested over {MAX_DEPTH} levels deep (the "
                "limit)"
            )
        entries += len(node)
        if sizes and entries > MAX_ENTRIES:
            raise LimitError(f"{where}: {root}: over {MAX_ENTRIES:,} entries (the limit)")
        on_path[id(node)] = path
        stack.append((node, path, depth, True))
        mapping = isinstance(node, Mapping)
        for key, value in node.items() if mapping else enumerate(node):
            if mapping and isinstance(key, (str, int)):
                check_key(key, f"{where}: {_written(root, path)}")
            stack.append((value, (path, key), depth + 1, False))


def _written(root: str, path: Any) -> str:
    """``root[2]['a']`` for the path ``((None, 2), 'a')``; a deep one as its first and last
    keys around the number of levels between."""
    keys = []
    while path is not None:
        path, key = path
        keys.append(f"[{key!r}]"[:40])
    keys.reverse()
    if len(keys) > 8:
        keys[4:-3] = [f"...({len(keys) - 7} levels)..."]
    return root + "".join(keys)
