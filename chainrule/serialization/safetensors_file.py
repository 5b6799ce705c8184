"""The safetensors file, written by us and checked before the library reads it.

Written here rather than by ``safetensors.numpy.save_file``, which writes its own temporary file
(``.tmpXXXXXX``, mode 0600) and renames it: a kill left that file behind for good, under a name
no one could tell from another program's, and the checkpoint got 0600 whatever the umask. The
bytes are the library's own layout (``safetensors.numpy.save`` gives the same header and data;
tests/cli/test_file_safety.py compares them): an 8-byte little-endian header length, the JSON header
padded with spaces to a multiple of 8, then every tensor's bytes, largest dtypes first, in name
order within a dtype. Each array is written from its memory, without a copy of the whole file.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

from chainrule.backend import xp
from chainrule.serialization import limits

# The format's dtype codes, in the order the library writes the data (its dtype enum, reversed).
_CODES = {
    xp.dtype(t): code
    for t, code in (
        (xp.uint64, "U64"), (xp.int64, "I64"), (xp.float64, "F64"), (xp.complex64, "C64"),
        (xp.float32, "F32"), (xp.uint32, "U32"), (xp.int32, "I32"), (xp.float16, "F16"),
        (xp.uint16, "U16"), (xp.int16, "I16"), (xp.int8, "I8"), (xp.uint8, "U8"),
        (xp.bool_, "BOOL"),
    )
}  # fmt: skip
_RANK = {dtype: i for i, dtype in enumerate(_CODES)}


def encode_header(
    tensors: Mapping[str, xp.ndarray], metadata: Mapping[str, str], where: str
) -> tuple[bytes, list[str]]:
    """The file's first bytes (length and padded JSON header) and the order of the tensors'
    data, checked against the limits ``load`` applies (``LimitError`` naming ``where``)."""
    if len(tensors) > limits.MAX_ENTRIES:
        raise limits.LimitError(
            f"{where}: {len(tensors):,} tensors, over the limit of {limits.MAX_ENTRIES:,}"
        )
    for name in tensors:
        limits.check_key(name, where)
    names = sorted(tensors, key=lambda k: (_RANK[tensors[k].dtype], k))
    header: dict[str, Any] = {"__metadata__": dict(metadata)}
    offset = 0
    for name in names:
        arr = tensors[name]
        header[name] = {"dtype": _CODES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}  # fmt: skip
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the library's does
    limits.check_header_bytes(text, where)
    return struct.pack("<Q", len(text)) + text, names


def write(fh: BinaryIO, tensors: Mapping[str, xp.ndarray], metadata: Mapping[str, str],
          where: str) -> None:  # fmt: skip
    """Writes the safetensors file of C-contiguous ``tensors`` and string ``metadata`` to the
    binary file ``fh``."""
    head, names = encode_header(tensors, metadata, where)
    fh.write(head)
    for name in names:
        arr = tensors[name]
        if arr.nbytes:
            fh.write(arr.reshape(-1).view(xp.uint8).data)  # the array's own memory


def check_head(read: Any, size: int, where: str) -> None:
    """Refuses a file whose header goes beyond the limits, before the library parses it:
    ``read(n)`` gives the file's next ``n`` bytes, ``size`` is its length. A file too short
    for the header it announces is left to the library, which says so."""
    first = read(8)
    if len(first) < 8:
        return
    n = struct.unpack("<Q", first)[0]
    if n > size - 8:
        return  # not a safetensors file, or a cut one: the library says so
    if n > limits.MAX_HEADER_BYTES:  # refused before a byte of it is read
        raise limits.LimitError(limits.header_too_large(where, n))
    limits.check_header_bytes(read(n), where)
