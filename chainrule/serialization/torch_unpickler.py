"""The restricted unpickler that reads the pickle inside a PyTorch checkpoint without running
anything from it, as ``torch.load(weights_only=True)`` does.

A pickle is a small program: ``GLOBAL os system`` followed by ``REDUCE`` calls ``os.system``.
``find_class`` is where every global a pickle names is resolved, so it is the one door to
guard: it answers only for the names in ``_ALLOWED`` (tensor rebuilders, storages, dtypes,
``OrderedDict``, ``torch.Size``, ``torch.device``, ``set``, ``complex``, ``bytes``), each mapped
to a small function of ours, never to the module the name points at; any other name is an
``UnpicklingError`` naming it, before anything is called. The rebuilders return placeholders
(``_TensorSpec``, ...) that hold no code and refuse ``BUILD``; ``materialize`` then turns them
into Tensors and arrays, checking every shape, stride and offset against its storage.

NumPy arrays (``numpy.core.multiarray._reconstruct``) are refused under ``weights_only=True``
as torch 2.13 refuses them by default; with ``weights_only=False`` they are rebuilt here from
their dtype name and bytes (plain numeric dtypes only), still without calling NumPy's code.
"""

from __future__ import annotations

import _compat_pickle
import collections
import pickle
from collections.abc import Callable
from typing import Any

from chainrule.serialization.structure import CheckpointError
from chainrule.serialization.torch_dtypes import DTYPE_NAMES, STORAGE_DTYPES
from chainrule.serialization.torch_rebuild import (
    NumpyArray,
    NumpyDtype,
    NumpyScalar,
    Storage,
    StorageType,
    TensorSpec,
    TorchDevice,
    TorchType,
)


class UnpicklingError(CheckpointError, pickle.UnpicklingError):
    """A PyTorch checkpoint's pickle names a global that loading may not import or call (the
    kind of error ``torch.load(weights_only=True)`` raises), or cannot be read at all."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise UnpicklingError(f"a record chainrule cannot rebuild safely: {what}")


def _ints(values: Any, what: str) -> tuple[int, ...]:
    _check(isinstance(values, (tuple, list)), f"{what} must be a tuple, got {values!r}")
    for v in values:
        _check(type(v) is int and v >= 0, f"{what} must hold ints >= 0, got {values!r}")
    return tuple(values)


# ----- the functions a pickle may call (each checks its arguments) -----
def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, meta=None):
    """torch._utils._rebuild_tensor_v2: a view (offset, size, stride) of a storage."""
    _check(isinstance(storage, Storage), f"a tensor's storage must be a storage, got {storage!r}")
    _check(type(offset) is int and offset >= 0, f"storage offset {offset!r}")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    _check(len(size) == len(stride), f"size {size} and stride {stride} differ in length")
    _check(isinstance(requires_grad, bool), f"requires_grad {requires_grad!r}")
    _check(not hooks, "a tensor saved with backward hooks (they would be code)")
    return TensorSpec(storage, offset, size, stride, requires_grad, None)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, meta=None):
    """torch._utils._rebuild_tensor_v3: as v2, with the dtype given (an UntypedStorage)."""
    spec = _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
    _check(isinstance(dtype, TorchType) and dtype.kind == "dtype", f"dtype {dtype!r}")
    spec.dtype = dtype.value
    return spec


def _rebuild_tensor(storage, offset, size, stride):
    """torch._utils._rebuild_tensor (older files): as v2 without requires_grad."""
    return _rebuild_tensor_v2(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, hooks, state=None):
    """torch._utils._rebuild_parameter(_with_state): a Parameter around a rebuilt tensor."""
    _check(isinstance(data, TensorSpec), f"a Parameter's data must be a tensor, got {data!r}")
    _check(isinstance(requires_grad, bool), f"requires_grad {requires_grad!r}")
    _check(not hooks and not state, "a Parameter saved with hooks or extra attributes")
    data.requires_grad, data.parameter = requires_grad, True
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a plain Tensor or Parameter, nothing else."""
    _check(func in _REBUILDERS, f"a tensor rebuilt by {func!r}")
    _check(isinstance(new_type, TorchType) and new_type.kind == "class", f"type {new_type!r}")
    _check(not state, "a tensor saved with extra attributes")
    _check(isinstance(args, tuple), f"arguments {args!r}")
    spec = func(*args)
    spec.parameter = spec.parameter or new_type.value == "Parameter"
    return spec


def _size(dims=()):
    return TorchType("size", _ints(dims, "torch.Size"))


def _device(*args):
    _check(len(args) in (1, 2) and isinstance(args[0], str), f"torch.device{args!r}")
    return TorchDevice(args)


def _encode(text, encoding="utf-8"):
    """_codecs.encode, as protocol 2 pickles ``bytes``: only text to latin-1 bytes."""
    _check(isinstance(text, str) and encoding in ("latin1", "latin-1"), "bytes")
    return text.encode("latin1")


def _bytes(*args):
    """builtins.bytes, as protocol 2 pickles ``b""`` (NumPy's empty arrays hold one): no
    arguments only."""
    _check(not args, "bytes")
    return b""


def _complex(real=0.0, imag=0.0):
    _check(all(type(v) in (int, float) for v in (real, imag)), "complex")
    return complex(real, imag)


def _set(items=()):
    _check(isinstance(items, (list, tuple)), "set")
    return set(items)


def _bytearray(data=b""):
    _check(isinstance(data, (bytes, list)), "bytearray")
    return bytearray(data)


def _np_reconstruct(cls, shape, tag):
    _check(isinstance(cls, TorchType) and cls.value == "ndarray", f"numpy array of {cls!r}")
    return NumpyArray()


def _np_dtype(name, align=False, copy=True):
    _check(isinstance(name, str), f"numpy dtype {name!r}")
    return NumpyDtype(name)


def _np_scalar(dtype, data=None):
    _check(isinstance(dtype, NumpyDtype) and isinstance(data, bytes), "numpy scalar")
    return NumpyScalar(dtype, data)


_REBUILDERS = {_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_tensor, _rebuild_parameter}


def _allowed() -> dict[str, Any]:
    """Every global a PyTorch checkpoint may name, mapped to what stands for it here."""
    table: dict[str, Any] = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.Tensor": TorchType("class", "Tensor"),
        "torch.nn.parameter.Parameter": TorchType("class", "Parameter"),
        "torch.Size": _size,
        "torch.device": _device,
        "torch.storage.UntypedStorage": StorageType(None),
        "_codecs.encode": _encode,
        "builtins.set": _set,
        "builtins.complex": _complex,
        "builtins.bytearray": _bytearray,
        "builtins.bytes": _bytes,
    }
    for name, dtype in STORAGE_DTYPES.items():
        table[f"torch.{name}"] = StorageType(dtype)
    for name, dtype in DTYPE_NAMES.items():
        table[f"torch.{name}"] = TorchType("dtype", dtype)
    return table


_ALLOWED = _allowed()
# NumPy's own pickles, under numpy 1's and numpy 2's module names; only for weights_only=False.
_NUMPY = {
    f"{module}.{name}": value
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name, value in (("_reconstruct", _np_reconstruct), ("scalar", _np_scalar))
}
_NUMPY.update({"numpy.ndarray": TorchType("class", "ndarray"), "numpy.dtype": _np_dtype})


class RestrictedUnpickler(pickle.Unpickler):
    """Reads a PyTorch pickle with ``find_class`` limited to ``_ALLOWED`` (see the module's
    docstring) and storages fetched by ``read_storage(key, dtype, numel, location)``."""

    def __init__(
        self, file: Any, name: str, read_storage: Callable, weights_only: bool = True
    ) -> None:
        super().__init__(file, encoding="utf-8")
        self._name, self._read_storage, self._weights_only = name, read_storage, weights_only

    def find_class(self, module: str, name: str) -> Any:
        # Python 2's names, as protocol-2 pickles write them (what pickle's fix_imports undoes)
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        full = f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}"
        if full in _ALLOWED:
            return _ALLOWED[full]
        if full in _NUMPY and not self._weights_only:
            return _NUMPY[full]
        hint = " Loading never imports or calls anything but tensor rebuilders, storages, "
        hint += "dtypes and plain containers, whatever weights_only says."
        if full in _NUMPY:
            hint = (
                " NumPy arrays are refused with weights_only=True, as torch.load refuses "
                "them; cr.load(f, weights_only=False) rebuilds them from their dtype and "
                "bytes, still without running code from the file."
            )
        elif full.startswith("torch.nn.modules."):
            hint += (
                " The file holds a whole Module (torch.save(model)): save model.state_dict() "
                "in PyTorch instead, and load that into the chainrule model."
            )
        raise UnpicklingError(
            f"cr.load: {self._name}: Unsupported global: GLOBAL {full} was not an allowed "
            f"global; nothing was imported or called.{hint}"
        )

    def persistent_load(self, pid: Any) -> Storage:
        """A storage named in the pickle: ``('storage', type, key, location, numel)``."""
        ok = isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
        _check(ok and isinstance(pid[1], StorageType), f"persistent id {pid!r}")
        _check(len(pid) == 5 or pid[5] is None, "a view of a storage (legacy format)")
        key, location, numel = pid[2], pid[3], pid[4]
        _check(isinstance(key, str) and isinstance(location, str), f"storage key {pid!r}")
        _check(type(numel) is int and numel >= 0, f"storage size {numel!r}")
        return self._read_storage(key, pid[1].dtype, numel, location)


def unpickle(file: Any, name: str, read_storage: Callable, weights_only: bool = True) -> Any:
    """The next object in the pickle read from ``file`` (a binary file object of ``name``),
    with placeholders where tensors, arrays, dtypes and devices go (``materialize`` in
    ``torch_rebuild`` makes them real).

    Raises:
        UnpicklingError: a global outside the allowed set, or a malformed pickle.
    """
    unpickler = RestrictedUnpickler(file, name, read_storage, weights_only)
    try:
        obj = unpickler.load()
    except CheckpointError as e:  # ours; those of the placeholders do not name the file yet
        if str(e).startswith("cr.load"):
            raise
        raise UnpicklingError(f"cr.load: {name}: {e}") from None
    except RuntimeError:  # a tensor saved on a GPU, without map_location
        raise
    except (Exception, RecursionError) as e:  # a malformed or cut pickle
        raise UnpicklingError(
            f"cr.load: {name}: the checkpoint's pickle is malformed or cut short "
            f"({type(e).__name__}: {e})"
        ) from None
    return obj
