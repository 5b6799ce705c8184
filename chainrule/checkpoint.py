"""Checkpoints: ``cr.save`` / ``cr.load`` in the safetensors format, written atomically.

A checkpoint is a flat dict of arrays with dotted keys (``"model.fc1.weight"``), stored with the
``safetensors`` package: a JSON header (names, dtypes, shapes, offsets) followed by the raw
bytes. Loading reads exactly that, so it never executes code from the file (no pickle).
Everything that is not an array (epoch, hyperparameters, the RNG state, the model's kind) goes
into the header's string ``metadata``, each value JSON-encoded.

Writes are atomic: the file is written under a temporary name in the same directory, flushed to
disk (fsync), and renamed over the old one (``os.replace``). A crash or a kill at any moment
leaves either the previous checkpoint or the new one, never half of one.

Every file ``save`` writes carries a SHA-256 of its tensors (names, dtypes, shapes and bytes) in
the metadata, under ``"chainrule.sha256"``; ``load`` recomputes it and refuses a file whose data
no longer matches (a flipped bit, a bad copy). Files without one (older, or from other tools)
load unchecked.

Example::

    tensors, opt_meta = cr.checkpoint.split_optimizer_state(opt.state_dict())
    cr.save({"model": model.state_dict(), "optimizer": tensors}, "ckpt.safetensors",
            metadata={"epoch": 7, "optimizer": opt_meta, "scheduler": sched.state_dict()})

    flat, meta = cr.load("ckpt.safetensors", with_metadata=True)
    parts = cr.checkpoint.unflatten(flat, depth=1)  # {"model": {...}, "optimizer": {...}}
    model.load_state_dict(parts["model"])
    opt.load_state_dict(
        cr.checkpoint.join_optimizer_state(parts.get("optimizer"), meta["optimizer"]))
    sched.load_state_dict(meta["scheduler"])
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load as load_bytes
from safetensors.numpy import save as save_bytes
from safetensors.numpy import save_file

from chainrule.autograd.creation import from_numpy
from chainrule.autograd.tensor import Tensor
from chainrule.errors import regular_file

__all__ = [
    "CheckpointError",
    "flatten",
    "join_optimizer_state",
    "load",
    "load_metadata",
    "load_weights",
    "metadata_error",
    "save",
    "split_optimizer_state",
    "unflatten",
    "whole_number",
    "write_atomically",
]

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
    np.dtype(t)
    for t in (
        np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
        np.int64, np.uint64, np.float16, np.float32, np.float64, np.complex64,
    )
)  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint file is not a valid safetensors file, or its contents are not as expected."""


# ----- nested dicts <-> dotted keys -----
def flatten(state: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """A nested dict of Tensors / arrays as one flat dict with dotted keys, arrays as values.

    ``{"model": {"fc.weight": w}, "step": s}`` becomes ``{"model.fc.weight": w, "step": s}``.
    Integer keys become strings. Tensors are unwrapped to their arrays (shared, not copied).

    Raises:
        TypeError: a value is neither a tensor, an array nor a dict (plain values belong in
            ``metadata``), or a key is not a string or int.
        ValueError: two entries flatten to the same key (``{"a.b": x, "a": {"b": y}}``).
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"flatten: expected a dict of tensors, got {type(state).__name__}")
    out: dict[str, np.ndarray] = {}
    _flatten_into(out, state, prefix)
    return out


def _flatten_into(out: dict[str, np.ndarray], state: Mapping, prefix: str) -> None:
    for key, value in state.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"flatten: keys must be strings, got {key!r} under {prefix!r}")
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten_into(out, value, name + ".")
            continue
        if isinstance(value, Tensor):
            arr = value._data
        elif isinstance(value, (np.ndarray, np.generic)):
            arr = np.asarray(value)
        else:
            raise TypeError(
                f"flatten: {name!r} is a {type(value).__name__}, not a tensor or array; put "
                "numbers, strings and other plain values in metadata=... instead"
            )
        if name in out:
            raise ValueError(f"flatten: two entries flatten to the same key {name!r}")
        out[name] = arr


def unflatten(flat: Mapping[str, Any], depth: int | None = None) -> dict[str, Any]:
    """The nested dict that ``flatten`` made flat: splits keys at dots.

    Args:
        flat: dotted key -> value.
        depth: split at most this many dots from the left; ``depth=1`` groups a checkpoint by
            its first component (``{"model": {"fc.weight": ...}, "optimizer": {...}}``), which
            is what a module's ``load_state_dict`` wants, since module keys contain dots.
            None splits at every dot.
    """
    if depth is not None and depth < 0:
        raise ValueError(f"unflatten: depth must be >= 0 or None, got {depth}")
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".", -1 if depth is None else depth)
        node = out
        for k, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(
                    f"unflatten: {'.'.join(parts[: k + 1])!r} is a value and also the prefix of "
                    f"{key!r}"
                )
            node = child
        if parts[-1] in node:
            raise ValueError(f"unflatten: {key!r} is a value and also the prefix of other keys")
        node[parts[-1]] = value
    return out


# ----- save / load -----
def save(obj: Any, f: Any, metadata: Mapping[str, Any] | None = None) -> None:
    """Writes ``obj`` to ``f`` (a path, or a binary file object) in the safetensors format; to a
    path atomically. Never pickle: ``load`` reads it back without executing anything.

    Called as PyTorch programs call ``torch.save(obj, f)`` (no ``metadata``), ``obj`` may be a
    state dict or any nesting of dicts, lists and tuples holding tensors, arrays, numbers,
    strings, booleans and None (a model's and an optimiser's ``state_dict()``, a scheduler's, an
    epoch count); ``load(f)`` gives the same structure back. Saving a whole ``Module`` is
    refused: save its ``state_dict()``.

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
    if _is_module(obj):
        raise TypeError(
            f"cr.save: {type(obj).__name__} is a Module; chainrule saves tensors, never pickled "
            "objects. Save its state_dict() instead: cr.save(model.state_dict(), f), and load "
            "it into a new model with model.load_state_dict(cr.load(f))"
        )
    if metadata is None:
        tensors: dict[str, np.ndarray] = {}
        structure = _encode_structure(obj, "", tensors)
        header_extra = {_STRUCTURE_KEY: json.dumps(structure)}
    else:
        tensors, header_extra = flatten(obj), {}
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
            tensors[name] = np.array(arr, order="C")
    header = _encode_metadata(metadata)
    header.update(header_extra)
    header[_DIGEST_KEY] = _digest(tensors)
    if hasattr(f, "write"):
        f.write(save_bytes(tensors, metadata=header))
        return
    write_atomically(f, lambda tmp: _write_file(tensors, tmp, header), "cr.save")


def write_atomically(path: str | os.PathLike, write: Any, who: str) -> None:
    """Calls ``write(tmp)`` to fill a temporary file beside ``path``, makes it durable (fsync)
    and renames it over ``path``: a crash or a kill at any moment leaves the old file or the new
    one, never half of one. Temporaries that killed writers left behind are removed first.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist (``who`` names the caller).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{who}: cannot write {path!r}: the directory {directory!r} does not exist"
        )
    _remove_stale_temporaries(directory, os.path.basename(path))
    tmp = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as open() does.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the bytes are on disk before the name points at them
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Deletes the temporary files ``.NAME.PID.HEX.tmp`` that a killed ``save`` of ``name`` left
    in ``directory`` (a kill cannot run the cleanup): those whose process no longer exists.
    A live process's file is left alone, since it may be writing it now."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]+\.tmp")
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m is None or _process_alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass  # removed by another run meanwhile, or not ours to remove


def _process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists (signal 0 checks without sending anything)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no pid is that large
        return False
    except OSError:
        return True  # exists under another user, or cannot tell: keep the file
    return True


def _write_file(tensors: dict[str, np.ndarray], path: str, metadata: dict[str, str]) -> None:
    """Writes the safetensors file (a separate function so tests can make it fail midway)."""
    save_file(tensors, path, metadata=metadata)


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable (POSIX: the directory entry lives in the directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def load(
    f: Any,
    map_location: Any = None,
    *,
    weights_only: bool = True,
    with_metadata: bool = False,
    **kwargs: Any,
) -> Any:
    """Reads a checkpoint written by ``save`` (or any safetensors file) from a path or a binary
    file object. Nothing in the file is executed, whatever ``weights_only`` says.

    ``map_location`` may be None, "cpu", ``cr.device("cpu")`` or a function (PyTorch's
    ``lambda storage, loc: storage``): everything loads onto the CPU, the only device; asking
    for another device is refused with the reason.

    Returns:
        for a file written by ``save(obj, f)``, ``obj`` as it was saved (tensors as Tensors);
        otherwise the flat dict ``dotted key -> Tensor`` (dtypes and shapes as saved; use
        ``unflatten`` for the nested form). With ``with_metadata=True``, always
        ``(flat tensors, metadata)`` where metadata is the dict given to ``save``.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        CheckpointError: the file is not a valid safetensors file (truncated, or something else
            altogether), or its tensors do not match the SHA-256 saved with them; the message
            names the file and what is wrong.
    """
    _check_map_location(map_location)
    if hasattr(f, "read"):
        path = str(getattr(f, "name", "<file object>"))
        raw, arrays = _read_file_object(f, path)
    else:
        path = _existing_file(f)
        try:
            with safe_open(path, framework="np") as fh:
                raw = fh.metadata()
                arrays = {key: fh.get_tensor(key) for key in fh.keys()}
        except Exception as e:  # the reader raises its own SafetensorError, OSError, ...
            raise _corrupt(path, e) from None
    _verify(path, raw, arrays)
    tensors = {key: from_numpy(arr) for key, arr in arrays.items()}
    if with_metadata:
        return tensors, _decode_metadata(path, raw)
    structure = (raw or {}).get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    try:
        return _decode_structure(json.loads(structure), tensors)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"cr.load: {path}: the structure recorded in the file is malformed ({e}); the file "
            "was altered or not written by chainrule"
        ) from None


def load_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict saved with a checkpoint (reads only the file's header)."""
    path = _existing_file(path)
    try:
        with safe_open(path, framework="np") as f:
            raw = f.metadata()
    except Exception as e:
        raise _corrupt(path, e) from None
    return _decode_metadata(path, raw)


def _existing_file(path: str | os.PathLike) -> str:
    return regular_file(path, "checkpoint file")


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """The SHA-256 (hex) of ``arrays``: each name, dtype, shape and C-order bytes, by name."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = arrays[name]
        h.update(json.dumps([name, arr.dtype.str, list(arr.shape)]).encode())
        h.update(arr.data if arr.flags.c_contiguous else arr.tobytes())
    return h.hexdigest()


def _verify(path: str, raw: Mapping[str, str] | None, arrays: Mapping[str, np.ndarray]) -> None:
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
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_metadata(path: str, raw: Mapping[str, str] | None) -> dict[str, Any]:
    raw = dict(raw or {})
    raw.pop(_DIGEST_KEY, None)
    raw.pop(_STRUCTURE_KEY, None)
    if raw.pop(_FORMAT_KEY, None) != _FORMAT_VALUE:
        return raw  # written by another tool: its values are plain strings
    out = {}
    for key, value in raw.items():
        try:
            out[key] = json.loads(value)
        except ValueError as e:
            raise CheckpointError(
                f"cr.load: metadata[{key!r}] of {path!r} is not valid JSON ({e})"
            ) from None
    return out


# ----- checking what a checkpoint holds -----
def metadata_error(path: str, key: str, expected: str, value: Any) -> CheckpointError:
    """The one-line error for metadata ``key`` of checkpoint ``path`` that is not ``expected``."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return CheckpointError(
        f"{path}: malformed metadata: {key!r} must be {expected}, got {shown}; the file was "
        "altered or not written by chainrule"
    )


def whole_number(value: Any) -> bool:
    """Whether ``value`` is an int >= 1 (JSON's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# ----- weights into a model -----
def load_weights(path: str, model, tensors: Mapping[str, Any]) -> None:
    """``model.load_state_dict(tensors)`` for tensors read from the checkpoint ``path``, every
    mismatch in one line that names the file.

    Integer and bool tensors are cast to the parameters' dtype, as PyTorch's ``load_state_dict``
    casts on purpose (``copy_``), so that weights travel between the two; what a cast would
    spoil is refused instead: complex tensors (the imaginary part would be dropped) and
    finite values too large for the parameter's dtype (they would become inf).

    Raises:
        CheckpointError: missing, unexpected or wrong-shaped tensors, or values no cast keeps;
            nothing of ``model`` is changed then.
    """
    own = model.state_dict()
    for name, value in tensors.items():
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        target = own.get(name)
        if target is None or arr.shape != target.shape:
            continue  # load_state_dict below names them all
        if arr.dtype.kind == "c":
            raise CheckpointError(
                f"{path}: tensor {name!r} is {arr.dtype}, but the model's {name} is real "
                f"({target.dtype}); the file was altered or not written by chainrule"
            )
        if target.dtype.kind == "f" and arr.dtype.kind == "f" and arr.size:
            limit = np.finfo(target.dtype).max
            finite = arr[np.isfinite(arr)]
            if finite.size and np.abs(finite).max() > limit:
                raise CheckpointError(
                    f"{path}: tensor {name!r} holds {np.abs(finite).max():.4g}, too large for "
                    f"the model's {target.dtype} (at most {limit:.4g})"
                )
    try:
        model.load_state_dict(dict(tensors))
    except (RuntimeError, ValueError, KeyError) as e:
        details = "; ".join(part.strip() for part in str(e).splitlines()[1:]) or str(e)
        raise CheckpointError(
            f"{path}: the weights do not fit the model its metadata describes: {details}"
        ) from None


# ----- optimiser state dicts -----
def split_optimizer_state(
    state_dict: Mapping[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Splits an optimiser's ``state_dict()`` into arrays and JSON-able metadata, for ``save``.

    Returns:
        ``(tensors, meta)``: tensors ``{"state.<index>.<name>": array}`` (moment estimates,
        momentum buffers) and meta ``{"state": {"<index>": {"step": int}}, "param_groups":
        [...]}`` (hyperparameters, step counts). ``join_optimizer_state`` puts them back.
    """
    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
        raise ValueError(
            "split_optimizer_state: expected an optimizer state_dict() with 'state' and "
            "'param_groups'"
        )
    tensors: dict[str, np.ndarray] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state_dict["state"].items():
        for name, value in entry.items():
            if "." in str(name):
                raise ValueError(f"split_optimizer_state: state name {name!r} contains a dot")
            if isinstance(value, Tensor):
                value = value._data
            if isinstance(value, np.ndarray):
                tensors[f"state.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = (
                    value.item() if isinstance(value, np.generic) else value
                )
    groups = [dict(group) for group in state_dict["param_groups"]]
    return tensors, {"state": scalars, "param_groups": groups}


def join_optimizer_state(
    tensors: Mapping[str, Any] | None, meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The optimiser state dict that ``split_optimizer_state`` split, from its two halves.

    Args:
        tensors: the arrays, flat (``{"state.0.exp_avg": ...}``) or nested; None or {} when the
            optimiser had no array state yet (nothing is written for it then).
        meta: the metadata half.
    """
    state: dict[int, dict[str, Any]] = {}
    for key, value in flatten(tensors or {}).items():
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit():
            raise CheckpointError(
                f"join_optimizer_state: unexpected key {key!r}; expected 'state.<index>.<name>'"
            )
        state.setdefault(int(parts[1]), {})[parts[2]] = value
    if not isinstance(meta, Mapping) or "param_groups" not in meta:
        raise CheckpointError(
            "join_optimizer_state: the metadata half has no 'param_groups'; pass the meta "
            "returned by split_optimizer_state"
        )
    for idx, entry in meta.get("state", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    groups = [dict(group) for group in meta["param_groups"]]
    return {"state": dict(sorted(state.items())), "param_groups": groups}


# ----- torch.save / torch.load's form: any nesting of containers, plain values and tensors -----
def _is_module(obj: Any) -> bool:
    from chainrule.nn.module import Module  # nn builds on this layer: imported when needed

    return isinstance(obj, Module)


def _encode_structure(obj: Any, where: str, tensors: dict[str, np.ndarray]) -> Any:
    """``obj`` as JSON: tensors moved into ``tensors`` under their dotted path and referred to
    as ``{"$t": key}``; dicts as ``{"$d": [[key, value], ...]}`` (int keys stay ints, as an
    optimiser's state needs); lists ``{"$l": [...]}``; tuples ``{"$u": [...]}``."""
    if isinstance(obj, Tensor) or isinstance(obj, (np.ndarray, np.generic)):
        key = where or "tensor"
        if key in tensors:
            raise ValueError(f"cr.save: two entries are both stored under the name {key!r}")
        tensors[key] = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
        return {"$t": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    prefix = f"{where}." if where else ""
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"cr.save: dict keys must be strings or ints, got {k!r} at {where!r}"
                )
            items.append([k, _encode_structure(v, f"{prefix}{k}", tensors)])
        return {"$d": items}
    if isinstance(obj, (list, tuple)):
        tag = "$l" if isinstance(obj, list) else "$u"
        return {tag: [_encode_structure(v, f"{prefix}{i}", tensors) for i, v in enumerate(obj)]}
    if _is_module(obj):
        raise TypeError(f"cr.save: {where!r} is a Module; save its state_dict() instead")
    raise TypeError(
        f"cr.save: {where or 'the object'!r} is a {type(obj).__name__}; a checkpoint holds "
        "tensors, arrays, numbers, strings, booleans, None, and dicts, lists and tuples of them "
        "(never pickled objects)"
    )


def _decode_structure(node: Any, tensors: Mapping[str, Tensor]) -> Any:
    if not isinstance(node, dict):
        return node
    if "$t" in node:
        return tensors[node["$t"]]
    if "$d" in node:
        return {k: _decode_structure(v, tensors) for k, v in node["$d"]}
    if "$l" in node:
        return [_decode_structure(v, tensors) for v in node["$l"]]
    if "$u" in node:
        return tuple(_decode_structure(v, tensors) for v in node["$u"])
    raise ValueError(f"unknown entry {sorted(node)}")


def _check_map_location(map_location: Any) -> None:
    """Everything loads onto the CPU; a device other than the CPU is refused with the reason."""
    if map_location is None or callable(map_location):
        return
    from chainrule import devices

    targets = map_location.values() if isinstance(map_location, Mapping) else [map_location]
    for target in targets:
        devices.check(target)


def _read_file_object(f: Any, name: str) -> tuple[dict[str, str] | None, dict[str, np.ndarray]]:
    """The metadata and arrays of a safetensors file read from a binary file object."""
    data = f.read()
    try:
        n = int.from_bytes(data[:8], "little")
        if len(data) < 8 or n > len(data) - 8:
            raise ValueError("the header is longer than the file")
        raw = json.loads(data[8 : 8 + n]).get("__metadata__")
        arrays = load_bytes(data)
    except Exception as e:
        raise _corrupt(name, e, len(data)) from None
    return raw, arrays
