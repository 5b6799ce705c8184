"""IDX files whose header claims other sizes than the file holds (a gzip bomb, a short stream,
dims whose product overflows, a payload longer than the header) are refused without reading
what the header claims; honest files still read every dtype. Each test bounds the memory the
refusal took (tracemalloc sees NumPy's allocations)."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest
from cli_checks import MB, peak_memory

from chainrule.datasets import DatasetFormatError, read_idx


# ----- IDX headers that lie -----
def idx_header(magic: int, dims: tuple[int, ...]) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def gzip_of_zeros(header: bytes, payload_bytes: int) -> bytes:
    """A gzip stream of ``header`` then ``payload_bytes`` zeros, made without holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    out = [z.compress(header)]
    chunk = bytes(MB)
    for _ in range(payload_bytes // MB):
        out.append(z.compress(chunk))
    out.append(z.compress(bytes(payload_bytes % MB)) + z.flush())
    return b"".join(out)


def test_a_204kb_gzip_idx_with_a_200mb_payload_is_refused_without_unpacking_it(tmp_path):
    """The issue's file: the header says ten 28x28 images, the stream unpacks to 200 MB."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_of_zeros(idx_header(0x803, (10, 28, 28)), 200 * MB))
    assert path.stat().st_size < 250_000
    with peak_memory() as p, pytest.raises(DatasetFormatError, match="longer than its header"):
        read_idx(path, expect_magic=0x803)
    assert p.mb < 5, f"{p.mb:.1f} MB before the refusal"


def test_a_gzip_idx_header_claiming_more_than_the_stream_holds_reads_only_what_is_there(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip_of_zeros(idx_header(0x803, (60_000_000, 28, 28)), 2 * MB))
    with peak_memory() as p, pytest.raises(DatasetFormatError, match=r"truncated IDX payload"):
        read_idx(path)
    assert p.mb < 10, f"{p.mb:.1f} MB"


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dims_whose_product_overflows_int64_are_a_clear_error(tmp_path, gz):
    data = idx_header(0x803, (2**32 - 1, 2**32 - 1, 2**32 - 1)) + bytes(64)
    path = tmp_path / "overflow.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetFormatError, match=r"overflow\.idx: truncated IDX payload") as e:
        read_idx(path)
    assert str((2**32 - 1) ** 3) in str(e.value)  # the true product, not a wrapped one


def test_an_unpacked_idx_longer_than_its_header_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_header(0x801, (3,)) + bytes(5 * MB))
    with peak_memory() as p, pytest.raises(DatasetFormatError, match=r"need 3 bytes .* found"):
        read_idx(path)
    assert p.mb < 1


@pytest.mark.parametrize("gz", [False, True])
def test_honest_idx_files_still_read_every_dtype(tmp_path, gz):
    from chainrule.datasets import write_idx

    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
        path = tmp_path / f"a-{np.dtype(dtype).name}.idx"
        write_idx(path, a, compress=gz)
        got = read_idx(path)
        assert got.dtype == a.dtype.newbyteorder("=") and got.flags.writeable
        np.testing.assert_array_equal(got, a)
