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
]

# Marks a header whose metadata values we JSON-encoded (files from other tools hold plain strings).
_FORMAT_KEY = "chainrule.metadata"
_FORMAT_VALUE = "json"
# SHA-256 of the tensors (names, dtypes, shapes, bytes; see _digest): safetensors has no checksum
# of its own, so without this a flipped bit in the data would load without a word.
_DIGEST_KEY = "chainrule.sha256"

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
def save(
    state: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, Any] | None = None
) -> None:
    """Writes ``state`` (a dict of Tensors / arrays, nested dicts allowed) to ``path`` in the
    safetensors format, atomically.

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
    tensors = flatten(state)
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
    header[_DIGEST_KEY] = _digest(tensors)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"cr.save: cannot write {path!r}: the directory {directory!r} does not exist"
        )
    _remove_stale_temporaries(directory, os.path.basename(path))
    tmp = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as open() does.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        _write_file(tensors, tmp, header)
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
    path: str | os.PathLike, with_metadata: bool = False
) -> dict[str, Tensor] | tuple[dict[str, Tensor], dict[str, Any]]:
    """Reads a checkpoint written by ``save`` (or any safetensors file).

    Returns:
        the flat dict ``dotted key -> Tensor`` (dtypes and shapes as saved; use ``unflatten``
        for the nested form), or, with ``with_metadata=True``, ``(tensors, metadata)`` where
        metadata is the dict given to ``save`` (values decoded from JSON).

    Raises:
        FileNotFoundError: there is no file at ``path``.
        CheckpointError: the file is not a valid safetensors file (truncated, or something else
            altogether), or its tensors do not match the SHA-256 saved with them; the message
            names the file and what is wrong.
    """
    path = _existing_file(path)
    try:
        with safe_open(path, framework="np") as f:
            raw = f.metadata()
            arrays = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as e:  # the reader raises its own SafetensorError, OSError, ...
        raise _corrupt(path, e) from None
    _verify(path, raw, arrays)
    tensors = {key: from_numpy(arr) for key, arr in arrays.items()}
    if not with_metadata:
        return tensors
    return tensors, _decode_metadata(path, raw)


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


def _corrupt(path: str, error: Exception) -> CheckpointError:
    return CheckpointError(
        f"cr.load: {path!r} is not a valid safetensors checkpoint ({error}; file size "
        f"{os.path.getsize(path)} bytes). It may have been cut short (an interrupted copy or a "
        "full disk) or be another kind of file."
    )


def _encode_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    header = {_FORMAT_KEY: _FORMAT_VALUE}
    if metadata is None:
        return header
    if not isinstance(metadata, Mapping):
        raise TypeError(f"cr.save: metadata must be a dict, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or key in (_FORMAT_KEY, _DIGEST_KEY):
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
