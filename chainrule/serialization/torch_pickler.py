"""The pickle inside a PyTorch checkpoint, written as ``torch.save`` writes it (protocol 2)
without importing torch: tensors as ``torch._utils._rebuild_tensor_v2`` over a storage named by
a persistent id (``('storage', torch.FloatStorage, key, 'cpu', numel)``), Parameters through
``_rebuild_parameter``, containers and plain values as pickle writes them.

The opcodes are written here rather than by ``pickle.Pickler`` because the pickler checks every
global it writes by importing it (``torch``); and because writing only what is listed below
means nothing else can slip into a checkpoint. NumPy arrays and scalars are the exception:
their bytes are NumPy's own protocol-2 pickle, spliced in, so that ``torch.load`` rebuilds them
exactly as it rebuilds the ones ``torch.save`` wrote.
"""

from __future__ import annotations

import collections
import pickle
import struct
from collections.abc import Mapping
from typing import Any

from chainrule.autograd.tensor import Size, Tensor
from chainrule.backend import xp
from chainrule.serialization.structure import _is_module
from chainrule.serialization.torch_dtypes import STORAGE_FOR, UNTYPED, dtype_name

P = pickle  # the opcodes: P.MARK, P.TUPLE, ...


def _global(module: str, name: str) -> bytes:
    return P.GLOBAL + f"{module}\n{name}\n".encode()


class TorchPickler:
    """Writes one object; ``storages`` then holds ``key -> bytes`` for the zip's ``data/``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.storages: dict[str, bytes] = {}
        self._keys: dict[int, str] = {}
        self._keep: list[xp.ndarray] = []  # arrays keyed by id() stay alive while we write

    def dumps(self, obj: Any) -> bytes:
        """The protocol-2 pickle of ``obj`` (a bytes object ending in STOP)."""
        self.parts = [P.PROTO + b"\x02"]
        self._save(obj, "")
        self.parts.append(P.STOP)
        return b"".join(self.parts)

    def _save(self, obj: Any, where: str) -> None:
        w = self.parts.append
        if obj is None:
            w(P.NONE)
        elif isinstance(obj, bool):
            w(P.NEWTRUE if obj else P.NEWFALSE)
        elif isinstance(obj, int):
            self._int(obj)
        elif isinstance(obj, float):
            w(P.BINFLOAT + struct.pack(">d", obj))
        elif isinstance(obj, str):
            data = obj.encode("utf-8", "surrogatepass")
            w(P.BINUNICODE + struct.pack("<I", len(data)) + data)
        elif isinstance(obj, Tensor):
            self._tensor(obj, where)
        elif isinstance(obj, (xp.ndarray, xp.generic)):
            self._numpy(obj, where)
        elif isinstance(obj, xp.dtype):
            self._dtype(obj, where)
        else:
            self._container(obj, where)

    def _container(self, obj: Any, where: str) -> None:
        w = self.parts.append
        prefix = f"{where}." if where else ""
        if isinstance(obj, collections.Counter):  # as its __reduce__: Counter(dict)
            w(_global("collections", "Counter"))
            self._container(dict(obj), where)
            w(P.TUPLE1 + P.REDUCE)
        elif isinstance(obj, Mapping):
            if isinstance(obj, collections.OrderedDict):
                w(_global("collections", "OrderedDict") + P.EMPTY_TUPLE + P.REDUCE)
            else:
                w(P.EMPTY_DICT)
            self._items(obj, prefix)
        elif isinstance(obj, list):
            w(P.EMPTY_LIST)
            if obj:
                w(P.MARK)
                for i, v in enumerate(obj):
                    self._save(v, f"{prefix}{i}")
                w(P.APPENDS)
        elif isinstance(obj, Size):  # before tuple: torch.Size((2, 3))
            w(_global("torch", "Size"))
            self._tuple(tuple(obj), where)
            w(P.TUPLE1 + P.REDUCE)
        elif isinstance(obj, tuple):
            self._tuple(obj, where)
        elif isinstance(obj, set):
            w(_global("__builtin__", "set"))
            self._save(list(obj), where)
            w(P.TUPLE1 + P.REDUCE)
        elif isinstance(obj, complex):
            w(_global("__builtin__", "complex"))
            self._save(obj.real, where), self._save(obj.imag, where)
            w(P.TUPLE2 + P.REDUCE)
        elif isinstance(obj, bytes):  # protocol 2's way, which torch's weights_only allows
            w(_global("_codecs", "encode"))
            self._save(obj.decode("latin1"), where), self._save("latin1", where)
            w(P.TUPLE2 + P.REDUCE)
        elif type(obj).__name__ == "device" and type(obj).__module__ == "chainrule.devices":
            w(_global("torch", "device"))
            self._save(str(obj), where)
            w(P.TUPLE1 + P.REDUCE)
        else:
            raise _refused(obj, where)

    def _items(self, obj: Mapping, prefix: str) -> None:
        if not obj:
            return
        self.parts.append(P.MARK)
        for k, v in obj.items():
            if not (k is None or isinstance(k, (str, int, float))):
                raise TypeError(
                    f"cr.save: dict keys must be strings or numbers, got {k!r} at {prefix[:-1]!r}"
                )
            self._save(k, prefix[:-1])
            self._save(v, f"{prefix}{k}")
        self.parts.append(P.SETITEMS)

    def _tuple(self, obj: tuple, where: str) -> None:
        if not obj:
            self.parts.append(P.EMPTY_TUPLE)
            return
        self.parts.append(P.MARK)
        for i, v in enumerate(obj):
            self._save(v, f"{where}.{i}" if where else str(i))
        self.parts.append(P.TUPLE)

    def _int(self, value: int) -> None:
        if 0 <= value < 256:
            self.parts.append(P.BININT1 + bytes([value]))
        elif -(2**31) <= value < 2**31:
            self.parts.append(P.BININT + struct.pack("<i", value))
        else:
            data = pickle.encode_long(value)
            if len(data) > 255:
                # LONG4, which torch.save writes for such an int, is refused by
                # torch.load(weights_only=True): a file it could not read is not written.
                raise TypeError(
                    f"cr.save: an int of {value.bit_length():,} bits is too large for PyTorch's "
                    "format, which torch.load(weights_only=True) reads up to 2,039 bits"
                )
            self.parts.append(P.LONG1 + bytes([len(data)]) + data)

    def _tensor(self, t: Tensor, where: str) -> None:
        """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())``
        (v3 with the dtype for uint16/32/64), in ``_rebuild_parameter`` for a Parameter."""
        from chainrule.nn.parameter import Parameter  # nn and serialization share a layer

        arr = xp.asarray(t._data)  # a 0-d tensor may hold a NumPy scalar
        name = dtype_name(arr.dtype)
        if name not in STORAGE_FOR and name not in UNTYPED:
            raise TypeError(f"cr.save: {where or 'the tensor'!r} has dtype {arr.dtype}, "
                            "which a PyTorch checkpoint cannot hold")  # fmt: skip
        key, offset, stride = self._storage(arr)
        param = isinstance(t, Parameter)
        w = self.parts.append
        if param:
            w(_global("torch._utils", "_rebuild_parameter") + P.MARK)
        untyped = name in UNTYPED  # no typed storage: bytes, and the dtype given to v3
        w(_global("torch._utils", "_rebuild_tensor_v3" if untyped else "_rebuild_tensor_v2"))
        numel = len(self.storages[key]) // (1 if untyped else arr.dtype.itemsize)
        w(P.MARK + P.MARK)
        self._save("storage", where)
        if untyped:
            w(_global("torch.storage", "UntypedStorage"))
        else:
            w(_global("torch", STORAGE_FOR[name]))
        self._save(key, where), self._save("cpu", where), self._save(numel, where)
        w(P.TUPLE + P.BINPERSID)
        self._save(offset, where)
        self._tuple(tuple(arr.shape), where), self._tuple(stride, where)
        self._save(bool(t.requires_grad) and not param, where)
        w(_global("collections", "OrderedDict") + P.EMPTY_TUPLE + P.REDUCE)
        if untyped:
            w(_global("torch", name))
        w(P.TUPLE + P.REDUCE)
        if param:
            self._save(bool(t.requires_grad), where)
            w(_global("collections", "OrderedDict") + P.EMPTY_TUPLE + P.REDUCE)
            w(P.TUPLE + P.REDUCE)

    def _storage(self, arr: xp.ndarray) -> tuple[str, int, tuple[int, ...]]:
        """(storage key, offset, strides in elements) for ``arr``: a view of a contiguous array
        is written as a view of that array's storage, so that tensors saved sharing memory
        load sharing it, as PyTorch's do; anything else gets a contiguous storage of its own."""
        root = arr
        while isinstance(root.base, xp.ndarray):
            root = root.base
        size = arr.dtype.itemsize
        found = _view_of(arr, root) if root.dtype == arr.dtype else None
        if found is None:  # not expressible as a view: a contiguous copy of its own
            root = xp.array(arr, order="C", dtype=arr.dtype.newbyteorder("<"))
            found = (0, tuple(s // size for s in root.strides))
        if id(root) not in self._keys:
            key = str(len(self.storages))
            self._keys[id(root)] = key
            self._keep.append(root)
            self.storages[key] = root.tobytes()
        return self._keys[id(root)], found[0], found[1]

    def _numpy(self, obj: Any, where: str) -> None:
        if obj.dtype.kind not in "biufc" or dtype_name(obj.dtype) == "bfloat16":
            raise TypeError(f"cr.save: {where or 'the array'!r} is a NumPy array of dtype "
                            f"{obj.dtype}; a checkpoint holds numeric arrays")  # fmt: skip
        # NumPy's own protocol-2 pickle, without its PROTO header and STOP: its memo indices
        # are only read back inside the same fragment, and we write no memo of our own.
        self.parts.append(pickle.dumps(obj, protocol=2)[2:-1])

    def _dtype(self, dtype: xp.dtype, where: str) -> None:
        name = dtype_name(dtype)
        if name not in STORAGE_FOR and name not in UNTYPED:
            raise TypeError(f"cr.save: {where!r} is the dtype {dtype}, which torch lacks")
        self.parts.append(_global("torch", name))


def _view_of(arr: xp.ndarray, root: xp.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """(offset, strides) of ``arr`` in elements of the C-contiguous little-endian ``root``
    whose memory it views, or None when it is no such view."""
    size = arr.dtype.itemsize
    if not root.flags.c_contiguous or arr.dtype.byteorder == ">" or size == 0 or not arr.size:
        return None
    delta = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if delta < 0 or delta % size or any(s < 0 or s % size for s in arr.strides):
        return None
    offset, stride = delta // size, tuple(s // size for s in arr.strides)
    if offset + sum((n - 1) * s for n, s in zip(arr.shape, stride)) >= root.size:
        return None
    return offset, stride


def _refused(obj: Any, where: str) -> TypeError:
    if _is_module(obj):
        return TypeError(f"cr.save: {where!r} is a Module; save its state_dict() instead")
    return TypeError(
        f"cr.save: {where or 'the object'!r} is a {type(obj).__name__}; a checkpoint holds "
        "tensors, arrays, numbers, strings, booleans, None, and dicts, lists and tuples of them "
        "(never pickled objects)"
    )
