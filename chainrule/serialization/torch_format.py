"""PyTorch's checkpoint files, read and written without PyTorch.

``torch.save`` writes a zip (stored, not compressed) whose records sit under one folder:
``data.pkl`` (the pickled object, protocol 2, each tensor naming a storage by key),
``data/<key>`` (each storage's raw bytes), ``byteorder`` ("little"), ``version`` and a few
more. ``torch.save(..., _use_new_zipfile_serialization=False)`` writes the legacy format
instead: pickled magic number, protocol version and system info, the object's pickle, the list
of storage keys, then each storage as an 8-byte element count and its bytes. Both are read
here through the restricted unpickler (``torch_unpickler``), so nothing in the file runs; the
zip format is also written (``save_torch``), readable by ``torch.load(f, weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import zipfile
from typing import Any

from chainrule.backend import xp
from chainrule.serialization.atomic import write_atomically
from chainrule.serialization.structure import CheckpointError
from chainrule.serialization.torch_dtypes import numpy_dtype
from chainrule.serialization.torch_pickler import TorchPickler
from chainrule.serialization.torch_rebuild import Storage, materialize
from chainrule.serialization.torch_unpickler import unpickle

ZIP_MAGIC = b"PK\x03\x04"
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
LEGACY_MAGIC = pickle.dumps(_MAGIC_NUMBER, protocol=2)[:-1]
SUFFIXES = (".pt", ".pth", ".tar")
_ALIGNMENT = 64  # torch aligns each record's data to 64 bytes (for mmap); we do the same


def kind_of(head: bytes) -> str:
    """ "zip", "legacy" (torch's pre-1.6 format), "pickle" (some other pickle) or "other",
    from a file's first bytes."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(LEGACY_MAGIC):
        return "legacy"
    if head[8:9] == b"{":  # safetensors: an 8-byte header length, then the JSON header
        return "other"
    if len(head) >= 2 and head[0] == pickle.PROTO[0] and 2 <= head[1] <= 5:
        return "pickle"
    return "other"


def wants_torch_format(f: Any) -> bool:
    """Whether ``save`` should write PyTorch's format to ``f``: a path, or a file object's
    name, ending in .pt, .pth or .tar."""
    name = getattr(f, "name", None) if hasattr(f, "write") else f
    if isinstance(name, (str, os.PathLike)):
        return os.fspath(name).lower().endswith(SUFFIXES)
    return False


# ----- writing -----
def save_torch(obj: Any, f: Any) -> None:
    """Writes ``obj`` in PyTorch's zip format to ``f`` (a path, atomically, or a binary file
    object), readable by ``torch.load(f, weights_only=True)``; nothing is written when
    ``obj`` holds something a checkpoint cannot (the TypeError names it)."""
    pickler = TorchPickler()
    data = pickler.dumps(obj)
    records = [("data.pkl", data), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", b"little")]  # fmt: skip
    records += [(f"data/{key}", raw) for key, raw in pickler.storages.items()]
    serial = int.from_bytes(hashlib.sha256(data).digest()[:16], "little") % 10**20
    records += [("version", b"3\n"), (".data/serialization_id", f"{serial:040d}".encode())]
    if hasattr(f, "write"):
        _write_zip(f, records)
        return

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            _write_zip(fh, records)

    write_atomically(f, write, "cr.save")


def _write_zip(fh: Any, records: list[tuple[str, bytes]]) -> None:
    try:
        start = fh.tell()
    except (OSError, AttributeError):
        start = None  # a stream: no alignment
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            info = zipfile.ZipInfo(f"archive/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            if start is not None:  # pad the local header's extra field, as torch's "FB" one
                header = fh.tell() + 30 + len(info.filename) + 4
                pad = -header % _ALIGNMENT
                info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            zf.writestr(info, data)


# ----- reading -----
def load_torch(src: Any, kind: str, name: str, map_location: Any, weights_only: bool) -> Any:
    """The object in the PyTorch checkpoint ``src`` (a path or a seekable binary file) of
    ``kind`` (see ``kind_of``); ``name`` names it in errors."""
    if kind == "zip":
        return _load_zip(src, name, map_location, weights_only)
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as fh:
            return _load_legacy(fh, name, map_location, weights_only)
    return _load_legacy(src, name, map_location, weights_only)


def _load_zip(src: Any, name: str, map_location: Any, weights_only: bool) -> Any:
    try:
        zf = zipfile.ZipFile(src)
        names = zf.namelist()
        pkl = [
            n for n in names if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1)
        ]
        if not pkl:
            raise CheckpointError(
                f"cr.load: {name} is a zip file without data.pkl, so not a PyTorch checkpoint"
            )
        prefix = pkl[0][: -len("data.pkl")]
        data = zf.read(pkl[0])
        order = zf.read(prefix + "byteorder") if prefix + "byteorder" in names else b"little"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise _corrupt(name, src, e) from None
    storages: dict[str, Storage] = {}

    def read_storage(key: str, dtype: str | None, numel: int, location: str) -> Storage:
        _check_location(location, map_location, name)
        if key not in storages:
            try:
                raw = zf.read(f"{prefix}data/{key}")
            except KeyError:
                raise CheckpointError(
                    f"cr.load: {name}: storage {key!r} is missing from the archive"
                ) from None
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise _corrupt(name, src, e) from None
            storages[key] = Storage(_array(raw, dtype, numel, order, name, key), key)
        return storages[key]

    with zf:
        obj = unpickle(io.BytesIO(data), name, read_storage, weights_only)
    return materialize(obj, name)


def _load_legacy(fh: Any, name: str, map_location: Any, weights_only: bool) -> Any:
    """torch's pre-1.6 format (see the module's docstring); also what any other pickle is
    taken for, so that its first global is refused by name, as torch.load refuses it."""

    def no_storage(*args: Any) -> Storage:
        raise CheckpointError(f"cr.load: {name}: a storage outside the checkpoint's object")

    magic = unpickle(fh, name, no_storage, weights_only)
    if type(magic) is not int or magic != _MAGIC_NUMBER:
        raise CheckpointError(
            f"cr.load: {name} is a pickle but not a PyTorch checkpoint (invalid magic number)"
        )
    version = unpickle(fh, name, no_storage, weights_only)
    info = unpickle(fh, name, no_storage, weights_only)
    if version != 1001 or not isinstance(info, dict):
        raise CheckpointError(f"cr.load: {name}: unknown legacy format version {version!r}")
    order = b"little" if info.get("little_endian", True) else b"big"
    pending: dict[str, tuple[Storage, str | None]] = {}

    def read_storage(key: str, dtype: str | None, numel: int, location: str) -> Storage:
        _check_location(location, map_location, name)
        return pending.setdefault(key, (Storage(None, key), dtype))[0]

    obj = unpickle(fh, name, read_storage, weights_only)
    keys = unpickle(fh, name, no_storage, weights_only)
    if not isinstance(keys, list) or set(keys) != set(pending):
        raise CheckpointError(f"cr.load: {name}: the list of storages does not match the object")
    for key in keys:
        storage, dtype = pending[key]
        count = int.from_bytes(fh.read(8), order.decode())
        size = numpy_dtype(dtype, name).itemsize if dtype else 1
        storage.array = _array(fh.read(count * size), dtype, count, order, name, key)
    return materialize(obj, name)


def _array(raw: bytes, dtype: str | None, numel: int, order: bytes, name: str, key: str):
    """The storage ``key``'s elements as a flat, writable, native-order array."""
    dt = numpy_dtype(dtype, name) if dtype else xp.dtype(xp.uint8)
    if len(raw) != numel * dt.itemsize:
        raise CheckpointError(
            f"cr.load: {name}: storage {key!r} holds {len(raw)} bytes where its {numel} "
            f"{dt} elements take {numel * dt.itemsize}; the file is damaged or cut short"
        )
    arr = xp.frombuffer(bytearray(raw), dtype=dt.newbyteorder(">" if order == b"big" else "<"))
    return arr if arr.dtype.isnative else arr.astype(dt.newbyteorder("="))


def _check_location(location: str, map_location: Any, name: str) -> None:
    """A storage saved on a GPU needs ``map_location``, as torch.load needs it without one."""
    if map_location is None and not location.startswith("cpu"):
        raise RuntimeError(
            f"cr.load: {name} holds tensors saved on {location!r}, and chainrule has no GPU "
            "backend; pass map_location='cpu' (or torch.device('cpu')) to load them onto the "
            "CPU, as torch.load needs on a machine without that device"
        )


def _corrupt(name: str, src: Any, error: Exception) -> CheckpointError:
    try:
        size = os.path.getsize(src) if isinstance(src, (str, os.PathLike)) else len(src.getvalue())
        shown = f"; file size {size} bytes"
    except (OSError, AttributeError):
        shown = ""
    return CheckpointError(
        f"cr.load: {name!r} is not a valid PyTorch zip checkpoint ({error}{shown}). It may "
        "have been cut short (an interrupted copy or a full disk) or be damaged."
    )
