"""``save`` and ``load``: the safetensors file, its JSON metadata header and the SHA-256 of its
tensors (see the package's docstring)."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from typing import Any

from safetensors import safe_open
from safetensors.numpy import load as load_bytes

from chainrule.autograd.creation import from_numpy
from chainrule.backend import xp
from chainrule.errors import regular_file
from chainrule.serialization import limits, safetensors_file, torch_format
from chainrule.serialization.atomic import check_writable, write_atomically
from chainrule.serialization.structure import (
    CheckpointError,
    _decode_structure,
    _encode_structure,
    _is_module,
    flatten,
)

# Marks a header whose metadata values we JSON-encoded (files from other tools hold plain strings).
_FORMAT_KEY = "chainrule.metadata"
_FORMAT_VALUE = "json"
# SHA-256 of the tensors (names, dtypes, shapes, bytes; see _digest): safetensors has no checksum
# of its own, so without this a flipped bit in the data would load without a word.
_DIGEST_KEY = "chainrule.sha256"
# The nesting of what ``save(obj, f)`` wrote (dicts, lists, tuples, plain values, and tensors by
# key), so that ``load(f)`` returns the object as PyTorch's ``torch.load`` would.
_STRUCTURE_KEY = "chainrule.structure"

# The dtypes that safetensors' NumPy reader maps back to NumPy (bfloat16 and float8 have no
# NumPy dtype; complex128 is not in the format).
_DTYPES = frozenset(
    xp.dtype(t)
    for t in (
        xp.bool_, xp.int8, xp.uint8, xp.int16, xp.uint16, xp.int32, xp.uint32,
        xp.int64, xp.uint64, xp.float16, xp.float32, xp.float64, xp.complex64,
    )
)  # fmt: skip


def _refuse_module(obj: Any) -> None:
    # A Module would need pickling to come back, and loading never executes code.
    if _is_module(obj):
        raise TypeError(
            f"cr.save: {type(obj).__name__} is a Module; chainrule saves tensors, never pickled "
            "objects. Save its state_dict() instead: cr.save(model.state_dict(), f), and load "
            "it into a new model with model.load_state_dict(cr.load(f))"
        )


def save(obj: Any, f: Any, metadata: Mapping[str, Any] | None = None) -> None:
    """Writes ``obj`` to ``f`` (a path, or a binary file object); to a path atomically. The
    format follows the name: a path (or a file object's ``name``) ending in ``.pt``, ``.pth``
    or ``.tar`` gets PyTorch's zip format, which ``torch.load(f, weights_only=True)`` reads;
    anything else, and every call with ``metadata=``, gets safetensors. ``load`` reads both
    back without executing anything.

    Called as PyTorch programs call ``torch.save(obj, f)`` (no ``metadata``), ``obj`` may be a
    state dict or any nesting of dicts, lists and tuples holding tensors, arrays, numbers,
    strings, booleans and None (a model's and an optimiser's ``state_dict()``, a scheduler's, an
    epoch count); ``load(f)`` gives the same structure back, as PyTorch's would: NumPy arrays
    as arrays, tensors as Tensors with their ``requires_grad``, Parameters as Parameters.
    Saving a whole ``Module`` is refused: save its ``state_dict()``.

    With ``metadata=`` (chainrule's own form, used by its trainers) ``obj`` is a dict of
    tensors, nested dicts allowed, and ``metadata`` holds the plain values; see below.

    Nested dicts are flattened with dotted keys (see ``flatten``). dtypes and shapes are kept
    exactly (float32, float64, int64, bool, ...). ``metadata`` holds everything else (numbers,
    strings, lists, nested dicts of those: epoch, hyperparameters, RNG state), JSON-encoded
    into the file's header; read it back with ``load(path, with_metadata=True)`` or
    ``load_metadata(path)``.

    The file is written to a temporary file in the same directory, fsync'ed, then renamed over
    ``path``; if anything fails (or the process is killed), the previous file at ``path`` is
    left as it was.

    Raises:
        TypeError: a value is not a tensor/array, its dtype is not storable, or a metadata value
            is not JSON-serialisable (the message names the key).
        FileNotFoundError: the directory of ``path`` does not exist.
    """
    _refuse_module(obj)
    where = f"cr.save: {_name_of(f)}"
    if not hasattr(f, "write"):
        check_writable(f, "cr.save")  # before anything is computed
    if metadata is None and torch_format.wants_torch_format(f):
        limits.check_saved(obj, where, sizes=False)  # the pickler recurses and has no memo
        torch_format.save_torch(obj, f)
        return
    if metadata is None:
        limits.check_saved(obj, where)  # before the recursive encoding: depth, size, cycles
        tensors: dict[str, xp.ndarray] = {}
        structure = _encode_structure(obj, "", tensors)
        header_extra = {_STRUCTURE_KEY: json.dumps(structure)}
    else:
        tensors, header_extra = flatten(obj), {}
        limits.check_saved(metadata, where, root="metadata")
    _check_storable(tensors)
    header = _encode_metadata(metadata)
    header.update(header_extra)
    header[_DIGEST_KEY] = _digest(tensors)
    safetensors_file.encode_header(tensors, header, where)  # the limits, before any writing
    if hasattr(f, "write"):
        safetensors_file.write(f, tensors, header, where)
        return
    write_atomically(f, lambda tmp: _write_file(tensors, tmp, header), "cr.save")


def _name_of(f: Any) -> str:
    """How messages name the file ``f`` (a path or a file object)."""
    if hasattr(f, "write") or hasattr(f, "read"):
        return str(getattr(f, "name", "<file object>"))
    return os.fspath(f)


def _check_storable(tensors: dict[str, xp.ndarray]) -> None:
    """Refuses dtypes safetensors cannot hold; makes strided arrays contiguous (in place)."""
    for name, arr in tensors.items():
        if arr.dtype not in _DTYPES:
            raise TypeError(
                f"cr.save: {name!r} has dtype {arr.dtype}, which a safetensors checkpoint cannot "
                f"hold; supported: {', '.join(sorted(d.name for d in _DTYPES))}"
            )
        # safetensors copies raw memory from the data pointer: a strided array must be made
        # contiguous first, or its elements would be written in the wrong order. (Not with
        # np.ascontiguousarray, which turns a 0-d array into shape (1,).)
        if not arr.flags.c_contiguous:
            tensors[name] = xp.array(arr, order="C")


def _write_file(tensors: dict[str, xp.ndarray], path: str, metadata: dict[str, str]) -> None:
    """Writes the safetensors file (a separate function so tests can make it fail midway)."""
    save_file(tensors, path, metadata=metadata)


def save_file(
    tensors: dict[str, xp.ndarray], filename: str, metadata: dict[str, str] | None = None
) -> None:
    """``safetensors.numpy.save_file``'s file, written into ``filename`` itself: no temporary
    file of the library's own is left behind by a kill (``safetensors_file``)."""
    with open(filename, "wb") as fh:
        safetensors_file.write(fh, tensors, metadata or {}, f"cr.save: {filename}")


def load(
    f: Any,
    map_location: Any = None,
    *,
    weights_only: bool = True,
    with_metadata: bool = False,
    **kwargs: Any,
) -> Any:
    """Reads a checkpoint from a path or a binary file object, whatever its name: one written
    by ``save``, any safetensors file, or PyTorch's own (``torch.save``'s zip format, or its
    legacy format). Nothing in the file is executed: PyTorch's pickles are read by a
    restricted unpickler that rebuilds tensors, storages, ``OrderedDict`` and plain containers
    only, and refuses any other global by name, as ``torch.load(weights_only=True)`` does.

    ``weights_only=True`` (the default) also refuses NumPy arrays inside a PyTorch pickle, as
    torch 2.13 does; ``weights_only=False`` rebuilds them from their dtype and bytes, still
    without running code from the file. It changes nothing else.

    ``map_location`` may be None, "cpu", ``cr.device("cpu")`` or a function (PyTorch's
    ``lambda storage, loc: storage``): everything loads onto the CPU, the only device; asking
    for another device is refused with the reason. A PyTorch file whose tensors were saved on
    a GPU needs a ``map_location``, as ``torch.load`` needs one on a machine without the GPU.

    Returns:
        for a PyTorch file or one written by ``save(obj, f)``, ``obj`` as it was saved
        (tensors as Tensors with their ``requires_grad``, NumPy arrays as arrays); otherwise
        the flat dict ``dotted key -> Tensor`` (dtypes and shapes as saved; use ``unflatten``
        for the nested form). With ``with_metadata=True`` (safetensors only), always ``(flat
        tensors, metadata)`` where metadata is the dict given to ``save``.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        UnpicklingError (a ``pickle.UnpicklingError`` and a CheckpointError): a PyTorch
            pickle names a global that loading may not use; the message names it and the file.
        CheckpointError: the file is not a valid checkpoint (truncated, damaged, or something
            else altogether), or its tensors do not match the SHA-256 saved with them; the
            message names the file and what is wrong.
    """
    _check_map_location(map_location)
    if hasattr(f, "read"):
        path = str(getattr(f, "name", "<file object>"))
        src: Any = io.BytesIO(f.read())
        head = src.getvalue()[:16]
    else:
        path = src = _existing_file(f)
        with open(path, "rb") as fh:
            head = fh.read(16)
    kind = torch_format.kind_of(head)
    if kind != "other":
        _no_metadata(path, with_metadata)
        strict = weights_only is None or bool(weights_only)  # None: torch's default, True
        return torch_format.load_torch(src, kind, path, map_location, strict)
    return _load_safetensors(src, path, with_metadata)


def _load_safetensors(src: Any, path: str, with_metadata: bool) -> Any:
    """``load`` of a safetensors file (see ``load``'s Returns)."""
    raw, arrays = _read_safetensors(src, path)
    _verify(path, raw, arrays)
    tensors = {key: from_numpy(arr) for key, arr in arrays.items()}
    if with_metadata:
        return tensors, _decode_metadata(path, raw)
    structure = (raw or {}).get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    where = f"cr.load: {path}"
    try:
        obj = _decode_structure(limits.loads(structure, f"{where}: the saved structure"), tensors)
        limits.check_saved(obj, where)  # what save refuses: deeper than MAX_DEPTH, long keys
        return obj
    except limits.LimitError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"cr.load: {path}: the structure recorded in the file is malformed ({e}); the file "
            "was altered or not written by chainrule"
        ) from None


def _read_safetensors(src: Any, path: str) -> tuple[dict[str, str] | None, dict[str, xp.ndarray]]:
    """The metadata and arrays of the safetensors file ``src`` (a path, or bytes in memory)."""
    if not isinstance(src, str):
        return _read_file_object(src, path)
    _check_file_head(src)
    try:
        with safe_open(src, framework="np") as fh:
            raw, names = fh.metadata(), list(fh.keys())
            for name in names:
                limits.check_key(name, f"cr.load: {path}")
            return raw, {key: fh.get_tensor(key) for key in names}
    except limits.LimitError:
        raise
    except Exception as e:  # the reader raises its own SafetensorError, OSError, ...
        raise _corrupt(path, e) from None


def _check_file_head(path: str) -> None:
    """Refuses a file whose header goes beyond the limits, before the library parses it."""
    with open(path, "rb") as fh:
        safetensors_file.check_head(fh.read, os.fstat(fh.fileno()).st_size, f"cr.load: {path}")


def _no_metadata(path: str, with_metadata: bool) -> None:
    if with_metadata:
        raise CheckpointError(
            f"cr.load: {path} is a PyTorch checkpoint, which has no chainrule metadata; load "
            "it without with_metadata=True"
        )


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict saved with a checkpoint (reads only the file's header)."""
    path = _existing_file(path)
    _check_file_head(path)
    try:
        with safe_open(path, framework="np") as f:
            raw = f.metadata()
    except Exception as e:
        raise _corrupt(path, e) from None
    return _decode_metadata(path, raw)


def _existing_file(path: str | os.PathLike) -> str:
    return regular_file(path, "checkpoint file")


def _digest(arrays: Mapping[str, xp.ndarray]) -> str:
    """The SHA-256 (hex) of ``arrays``: each name, dtype, shape and C-order bytes, by name."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode())
        h.update(arr.data if arr.flags.c_contiguous else arr.tobytes())
    return h.hexdigest()


def _verify(path: str, raw: Mapping[str, str] | None, arrays: Mapping[str, xp.ndarray]) -> None:
    """Refuses tensors whose digest differs from the one saved with them (files written before
    digests were stored, or by other tools, have none and are not checked)."""
    expected = (raw or {}).get(_DIGEST_KEY)
    if expected is not None and _digest(arrays) != expected:
        raise CheckpointError(
            f"{path}: the tensor data does not match the SHA-256 saved with it, so "
            "the file was damaged or altered after it was written; use another copy or "
            "write it again"
        )


def _corrupt(path: str, error: Exception, size: int | None = None) -> CheckpointError:
    size = os.path.getsize(path) if size is None else size
    return CheckpointError(
        f"cr.load: {path!r} is not a valid safetensors checkpoint ({error}; file size "
        f"{size} bytes). It may have been cut short (an interrupted copy or a "
        "full disk) or be another kind of file."
    )


def _encode_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    header = {_FORMAT_KEY: _FORMAT_VALUE}
    if metadata is None:
        return header
    if not isinstance(metadata, Mapping):
        raise TypeError(f"cr.save: metadata must be a dict, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or key in (_FORMAT_KEY, _DIGEST_KEY, _STRUCTURE_KEY):
            raise TypeError(
                f"cr.save: metadata keys must be strings other than {_FORMAT_KEY!r} and "
                f"{_DIGEST_KEY!r}, got {key!r}"
            )
        try:
            header[key] = json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as e:
            raise TypeError(f"cr.save: metadata[{key!r}] cannot be stored as JSON: {e}") from None
    return header


def _json_default(value: Any) -> Any:
    if isinstance(value, xp.generic):
        return value.item()
    if isinstance(value, xp.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_metadata(path: str, raw: Mapping[str, str] | None) -> dict[str, Any]:
    raw = dict(raw or {})
    raw.pop(_DIGEST_KEY, None)
    raw.pop(_STRUCTURE_KEY, None)
    if raw.pop(_FORMAT_KEY, None) != _FORMAT_VALUE:
        return raw  # written by another tool: its values are plain strings
    out, where = {}, f"cr.load: {path}"
    for key, value in raw.items():
        limits.check_key(key, where)
        try:
            out[key] = limits.loads(value, f"{where}: metadata[{key!r}]")
            limits.check_saved(out[key], where, root=f"metadata[{key!r}]")
        except limits.LimitError:
            raise
        except ValueError as e:
            raise CheckpointError(
                f"cr.load: metadata[{key!r}] of {path!r} is not valid JSON ({e})"
            ) from None
    return out


def _check_map_location(map_location: Any) -> None:
    """Everything loads onto the CPU; a device other than the CPU is refused with the reason."""
    if map_location is None or callable(map_location):
        return
    from chainrule import devices

    targets = map_location.values() if isinstance(map_location, Mapping) else [map_location]
    for target in targets:
        devices.check(target)


def _read_file_object(f: Any, name: str) -> tuple[dict[str, str] | None, dict[str, xp.ndarray]]:
    """The metadata and arrays of a safetensors file read from a binary file object."""
    data = f.read()
    safetensors_file.check_head(io.BytesIO(data).read, len(data), f"cr.load: {name}")
    try:
        n = int.from_bytes(data[:8], "little")
        if len(data) < 8 or n > len(data) - 8:
            raise ValueError("the header is longer than the file")
        raw = json.loads(data[8 : 8 + n]).get("__metadata__")
        arrays = load_bytes(data)
    except Exception as e:
        raise _corrupt(name, e, len(data)) from None
    for key in arrays:
        limits.check_key(key, f"cr.load: {name}")
    return raw, arrays
