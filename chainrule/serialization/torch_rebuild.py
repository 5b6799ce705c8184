"""What the restricted unpickler builds while it reads (placeholders holding only data) and
``materialize``, which turns them into Tensors, Parameters, arrays, dtypes and devices once the
whole pickle is read, checking each tensor's view against its storage."""

from __future__ import annotations

import math

from chainrule.autograd.creation import from_numpy
from chainrule.autograd.tensor import Size
from chainrule.backend import xp
from chainrule.serialization.structure import CheckpointError
from chainrule.serialization.torch_dtypes import numpy_dtype


class _Record:
    """A placeholder: no ``__dict__`` and a ``__setstate__`` that refuses, so that a pickle's
    ``BUILD`` cannot set attributes on it (only NumPy's records accept their own state)."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise CheckpointError(f"a pickle tried to set the state of {self!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class StorageType(_Record):
    """``torch.FloatStorage`` and kin: the dtype of the storage a persistent id names (None
    for ``torch.storage.UntypedStorage``, whose bytes take the dtype of ``_rebuild_tensor_v3``)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: str | None) -> None:
        self.dtype = dtype


class Storage(_Record):
    """One storage of the file: its elements as a flat array (bytes for an untyped one)."""

    __slots__ = ("array", "key")

    def __init__(self, array: xp.ndarray, key: str) -> None:
        self.array, self.key = array, key


class TensorSpec(_Record):
    """A tensor as ``_rebuild_tensor_v2`` describes it: a strided view of a storage."""

    __slots__ = ("dtype", "offset", "parameter", "requires_grad", "size", "storage", "stride")

    def __init__(self, storage, offset, size, stride, requires_grad, dtype) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.requires_grad, self.dtype, self.parameter = requires_grad, dtype, False


class TorchType(_Record):
    """A named value of torch's: a dtype (``torch.float32``), a ``torch.Size`` or a class
    used only as a marker (``torch.Tensor`` in ``_rebuild_from_type_v2``, ``numpy.ndarray``)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: object) -> None:
        self.kind, self.value = kind, value

    def __repr__(self) -> str:
        return f"<{self.kind} {self.value}>"


class TorchDevice(_Record):
    """``torch.device(...)``'s arguments."""

    __slots__ = ("args",)

    def __init__(self, args: tuple) -> None:
        self.args = args


class NumpyDtype(_Record):
    """``numpy.dtype(name, ...)`` and the byte order its state gives."""

    __slots__ = ("name", "order")

    def __init__(self, name: str) -> None:
        self.name, self.order = name, "="

    def __setstate__(self, state: object) -> None:
        # (version, byte order, subdescriptor, names, fields, elsize, alignment, flags)
        ok = isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")
        if not ok or any(part is not None for part in state[2:5]):
            raise CheckpointError(f"a NumPy dtype with structure or sub-arrays: {state!r}")
        self.order = state[1]

    def dtype(self) -> xp.dtype:
        """The plain numeric NumPy dtype it names (structured, object and text ones refused)."""
        dtype = xp.dtype(self.name)
        if dtype.kind not in "biufc" or dtype.fields is not None:
            raise CheckpointError(f"a NumPy array of dtype {self.name!r} (only numbers load)")
        return dtype.newbyteorder(self.order) if self.order in "<>" else dtype


class NumpyArray(_Record):
    """``numpy.core.multiarray._reconstruct`` followed by ``BUILD`` with the array's state."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = None

    def __setstate__(self, state: object) -> None:
        self.state = state

    def array(self) -> xp.ndarray:
        ok = isinstance(self.state, tuple) and len(self.state) == 5
        _, shape, dtype, fortran, raw = self.state if ok else (None,) * 5
        if not (ok and isinstance(dtype, NumpyDtype) and isinstance(raw, bytes)):
            raise CheckpointError("a NumPy array whose pickled state is not dtype and bytes")
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else None
        if shape is None or not all(type(n) is int and n >= 0 for n in shape):
            raise CheckpointError(f"a NumPy array of shape {self.state[1]!r}")
        dt = dtype.dtype()
        if len(raw) != math.prod(shape) * dt.itemsize:  # Python ints: no overflow to fool it
            raise CheckpointError(f"a NumPy array of shape {shape} whose bytes do not fit it")
        flat = xp.frombuffer(raw, dtype=dt)
        return flat.reshape(shape, order="F" if fortran else "C").astype(dt.newbyteorder("="))


class NumpyScalar(_Record):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: a NumPy scalar."""

    __slots__ = ("dtype", "raw")

    def __init__(self, dtype: NumpyDtype, raw: bytes) -> None:
        self.dtype, self.raw = dtype, raw

    def value(self) -> xp.generic:
        dt = self.dtype.dtype()
        if len(self.raw) != dt.itemsize:
            raise CheckpointError(f"a NumPy {dt} scalar of {len(self.raw)} bytes")
        return xp.frombuffer(self.raw, dtype=dt).astype(dt.newbyteorder("="))[0]


def materialize(obj: object, name: str) -> object:
    """``obj`` with every placeholder replaced by what it stands for (containers are updated
    in place, so shared and self-referencing ones stay so)."""
    try:
        return _walk(obj, {}, name)
    except RecursionError:
        raise CheckpointError(f"cr.load: {name}: the checkpoint is nested too deeply") from None
    except CheckpointError as e:
        if str(e).startswith("cr.load"):
            raise
        raise CheckpointError(f"cr.load: {name}: {e}") from None
    except (ValueError, TypeError, OverflowError) as e:  # a malformed record's values
        raise CheckpointError(
            f"cr.load: {name}: a record of the checkpoint is malformed ({e})"
        ) from None


_PLAIN = (str, int, float, bool, complex, bytes, bytearray, type(None))


def _walk(obj: object, memo: dict[int, object], name: str) -> object:
    if isinstance(obj, _PLAIN):
        return obj
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, dict):  # dict, OrderedDict, Counter (BUILD may have set attributes)
        memo[id(obj)] = obj
        items = [(_walk(k, memo, name), _walk(v, memo, name)) for k, v in obj.items()]
        obj.clear()
        for k, v in items:  # not update(): Counter.update adds counts
            obj[k] = v
        for attr, value in vars(obj).items() if hasattr(obj, "__dict__") else ():
            setattr(obj, attr, _walk(value, memo, name))
        return obj
    if isinstance(obj, list):
        memo[id(obj)] = obj
        obj[:] = [_walk(v, memo, name) for v in obj]
        return obj
    if isinstance(obj, (tuple, set)):
        out = type(obj)(_walk(v, memo, name) for v in obj)
    else:
        out = _value(obj, name)
    memo[id(obj)] = out
    return out


def _value(obj: object, name: str) -> object:
    """What one placeholder stands for."""
    if isinstance(obj, TensorSpec):
        return _tensor(obj, name)
    if isinstance(obj, NumpyArray):
        return obj.array()
    if isinstance(obj, NumpyScalar):
        return obj.value()
    if isinstance(obj, TorchType) and obj.kind == "dtype":
        return numpy_dtype(obj.value, name)
    if isinstance(obj, TorchType) and obj.kind == "size":
        return Size(obj.value)
    if isinstance(obj, TorchDevice):
        from chainrule.devices import device

        return device(*obj.args)
    raise CheckpointError(
        f"cr.load: {name}: the checkpoint holds {obj!r} on its own (not as part of a "
        "tensor), which chainrule does not load"
    )


def _tensor(spec: TensorSpec, name: str):
    """The Tensor (or Parameter) ``spec`` describes, its data a view of the storage's array
    wherever the view is valid (tensors saved sharing a storage share it again)."""
    arr = spec.storage.array
    if spec.dtype is not None:
        dtype = numpy_dtype(spec.dtype, name)
        if arr.nbytes % dtype.itemsize:
            raise CheckpointError(f"cr.load: {name}: storage {spec.storage.key} is not {dtype}")
        arr = arr.view(dtype)
    size, stride, offset = spec.size, spec.stride, spec.offset
    if 0 in size:
        data = xp.zeros(size, dtype=arr.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= arr.size:
            raise CheckpointError(
                f"cr.load: {name}: a tensor of size {size}, stride {stride} and offset "
                f"{offset} reaches element {last} of storage {spec.storage.key!r}, which has "
                f"{arr.size}; the file is damaged or was altered"
            )
        # An expanded view (several positions on one element) is read-only, as chainrule's
        # own expand() is, and as torch refuses in-place writes to it.
        try:
            data = xp.lib.stride_tricks.as_strided(
                arr[offset:],
                shape=size,
                strides=[s * arr.itemsize for s in stride],
                writeable=not _overlaps(size, stride),
            )
        except ValueError as e:  # a size too large for any array
            raise CheckpointError(f"cr.load: {name}: a tensor of size {size}: {e}") from None
    if spec.parameter:
        from chainrule.nn.parameter import Parameter  # nn and serialization share a layer

        return Parameter(data, requires_grad=spec.requires_grad)
    tensor = from_numpy(data)
    if spec.requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _overlaps(size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether two positions of the view share an element (a 0 stride, an expand)."""
    need = 1
    for n, s in sorted((p for p in zip(size, stride) if p[0] > 1), key=lambda p: p[1]):
        if s < need:
            return True
        need = s * n
    return False
