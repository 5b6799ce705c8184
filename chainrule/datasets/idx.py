"""A reader (and writer) of the IDX format, in which MNIST and Fashion-MNIST are published.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the payload in
row-major (C) order, big-endian::

    magic = 0x00 0x00 <type code> <number of dimensions>

    type code  0x08 uint8   0x09 int8   0x0B int16   0x0C int32   0x0D float32   0x0E float64

MNIST's labels are ``0x00000801`` (uint8, one dimension N) and its images ``0x00000803`` (uint8,
dimensions N, H, W). Files are often gzipped; we tell by the gzip magic bytes ``1f 8b`` rather than
by the file name, since a renamed or already-unpacked file is common.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

from chainrule.backend import xp
from chainrule.datasets.errors import DatasetFormatError
from chainrule.errors import regular_file

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

# IDX type code -> big-endian NumPy dtype of the payload.
IDX_DTYPES: dict[int, xp.dtype] = {
    0x08: xp.dtype(">u1"),
    0x09: xp.dtype(">i1"),
    0x0B: xp.dtype(">i2"),
    0x0C: xp.dtype(">i4"),
    0x0D: xp.dtype(">f4"),
    0x0E: xp.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _gzip_error(path: str, e: Exception) -> DatasetFormatError:
    # BadGzipFile (an OSError) for a bad header or CRC, EOFError for a cut-off stream,
    # zlib.error for damaged deflate data: all mean the same thing to the user.
    return DatasetFormatError(
        f"{path}: corrupt or truncated gzip stream ({type(e).__name__}: {e}); "
        "delete the file and fetch it again"
    )


# deflate cannot unpack to more than about 1032 times its size: a bound on any gzip payload.
_GZIP_MAX_RATIO = 1100


def _read_payload(f, n: int, bound: int) -> xp.ndarray:
    """The next ``n`` bytes of ``f`` as uint8, and whether more follow: read in chunks into one
    buffer of at most ``bound`` bytes, so memory grows with the bytes that are there, not with
    ``n`` (which comes from a header and may be absurd); at most one byte past ``n`` is read."""
    buf = xp.empty(min(n, bound), xp.uint8)  # pages are only taken as they are written
    view, got = memoryview(buf), 0
    while got < len(buf):
        k = f.readinto(view[got : got + (1 << 22)])
        if not k:
            break
        got += k
    more = got == n and len(f.read(1)) > 0
    return buf[:got], more


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> xp.ndarray:
    """Reads one IDX file (gzipped or not) into a NumPy array of native byte order.

    The header is read first and the payload's size computed from it in Python integers; then at
    most that many bytes plus one are read (unpacked, for a gzipped file), so a header that
    lies about the payload is refused without unpacking the whole stream.

    Args:
        path: the file.
        expect_magic: if given, the magic number the file must carry (``0x00000801`` for MNIST
            labels, ``0x00000803`` for MNIST images); any other is an error naming both.

    Returns:
        An array whose shape is the header's dimensions (e.g. (N, H, W) for images, (N,) for
        labels) and whose dtype is the one the type code names, in native byte order.

    Raises:
        DatasetFormatError: wrong or unknown magic number, a header or payload shorter or longer
            than the header's dimensions call for, or a corrupt gzip stream; the message names
            the file.
        FileNotFoundError, IsADirectoryError, NotARegularFileError: nothing, a folder, or a
            FIFO or device at ``path`` (``errors.regular_file``).
    """
    path = regular_file(path, "IDX data file")
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        if not gzipped:
            return _read_idx_stream(path, raw, expect_magic, size, size)
        try:
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_idx_stream(path, f, expect_magic, None, _GZIP_MAX_RATIO * size)
        except (OSError, EOFError, zlib.error) as e:
            raise _gzip_error(path, e) from None


def _read_idx_stream(path: str, f, expect_magic: int | None, size: int | None,
                     bound: int) -> xp.ndarray:  # fmt: skip
    """``read_idx`` on the open (unpacked) stream ``f``; ``size``: the file's size in bytes, when
    it is the stream's (not gzipped); ``bound``: the most bytes the stream can hold."""
    head = f.read(4)
    if len(head) < 4:
        raise DatasetFormatError(
            f"{path}: truncated IDX file: expected at least a 4-byte magic number, "
            f"found {len(head)} bytes"
        )
    magic = int.from_bytes(head, "big")
    zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if expect_magic is not None and magic != expect_magic:
        raise DatasetFormatError(
            f"{path}: not the expected IDX file: magic number 0x{magic:08x}, "
            f"expected 0x{expect_magic:08x}"
        )
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DatasetFormatError(
            f"{path}: not an IDX file: magic number 0x{magic:08x} (expected 0x0000TTDD with type "
            f"code TT in {sorted(f'{c:02x}' for c in IDX_DTYPES)} and DD >= 1 dimensions)"
        )
    header = 4 + 4 * ndim
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DatasetFormatError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"found {4 + len(raw_dims)}"
        )
    dims = tuple(int.from_bytes(raw_dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python integers: no overflow
    if size is not None and size - header != expected:
        found = size - header  # an unpacked file says its payload's size without being read
    else:
        data, more = _read_payload(f, expected, bound)
        found = len(data) + more
    if found < expected:
        raise DatasetFormatError(
            f"{path}: truncated IDX payload: dimensions {dims} of {dtype.name} need {expected} "
            f"bytes after the {header}-byte header, found {found}"
        )
    if found > expected:
        more = "more" if size is None else str(found)  # a gzip stream is read no further
        raise DatasetFormatError(
            f"{path}: IDX payload longer than its header says: dimensions {dims} of {dtype.name} "
            f"need {expected} bytes after the {header}-byte header, found {more}"
        )
    arr = data.view(dtype)
    if dtype.itemsize == 1:  # the buffer is ours already: no copy
        return arr.view(dtype.newbyteorder("=")).reshape(dims)
    # astype copies: the result is writable, native-endian and owns its memory.
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def write_idx(path: str | os.PathLike, array: xp.ndarray, compress: bool | None = None) -> None:
    """Writes ``array`` as an IDX file; gzipped when ``compress`` is true (by default: when the
    name ends in ``.gz``).

    The type code follows the array's dtype (uint8, int8, int16, int32, float32, float64); any
    other dtype is a ``TypeError``.
    """
    path = os.fspath(path)
    array = xp.asarray(array)
    native = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = native.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"write_idx: IDX has no type code for dtype {array.dtype}; "
            f"expected one of {[str(d) for d in native]}"
        )
    dt = IDX_DTYPES[code]
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: expected 1 to 255 dimensions, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + xp.ascontiguousarray(array, dtype=dt).tobytes()
    if compress is None:
        compress = path.endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
