"""Nested state <-> the flat, dotted tensor names of a safetensors file: ``flatten`` and
``unflatten`` for dicts of tensors, and the JSON structure that lets ``load(f)`` give back any
nesting of dicts, lists and tuples that ``save(obj, f)`` was given, as ``torch.load`` would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp


class CheckpointError(ValueError):
    """A checkpoint file is not a valid safetensors file, or its contents are not as expected."""


# ----- nested dicts <-> dotted keys -----
def flatten(state: Mapping[str, Any], prefix: str = "") -> dict[str, xp.ndarray]:
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
    out: dict[str, xp.ndarray] = {}
    _flatten_into(out, state, prefix)
    return out


def _flatten_into(out: dict[str, xp.ndarray], state: Mapping, prefix: str) -> None:
    for key, value in state.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise TypeError(f"flatten: keys must be strings, got {key!r} under {prefix!r}")
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten_into(out, value, name + ".")
            continue
        if isinstance(value, Tensor):
            arr = value._data
        elif isinstance(value, (xp.ndarray, xp.generic)):
            arr = xp.asarray(value)
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


# ----- torch.save / torch.load's form: any nesting of containers, plain values and tensors -----
def _is_module(obj: Any) -> bool:
    from chainrule.nn.modules.module import Module  # nn builds on this layer: imported when needed

    return isinstance(obj, Module)


def _encode_structure(obj: Any, where: str, tensors: dict[str, xp.ndarray]) -> Any:
    """``obj`` as JSON: arrays moved into ``tensors`` under their dotted path and referred to
    as ``{"$t": key}`` for a tensor (``"g": 1`` if it requires grad, ``"p": 1`` for a
    Parameter), ``{"$a": key}`` for a NumPy array and ``{"$s": key}`` for a NumPy scalar, so
    that each comes back as what it was, as with PyTorch; dicts as ``{"$d": [[key, value],
    ...]}`` (int keys stay ints, as an optimiser's state needs); lists ``{"$l": [...]}``;
    tuples ``{"$u": [...]}``."""
    if isinstance(obj, Tensor) or isinstance(obj, (xp.ndarray, xp.generic)):
        key = where or "tensor"
        if key in tensors:
            raise ValueError(f"cr.save: two entries are both stored under the name {key!r}")
        tensors[key] = xp.asarray(obj._data if isinstance(obj, Tensor) else obj)
        if not isinstance(obj, Tensor):
            return {"$s" if isinstance(obj, xp.generic) else "$a": key}
        from chainrule.nn.parameter import Parameter  # nn and serialization share a layer

        flags = {"g": 1} if obj.requires_grad else {}
        return {"$t": key, **flags, **({"p": 1} if isinstance(obj, Parameter) else {})}
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
        return _tensor(tensors[node["$t"]], node)
    if "$a" in node:
        return tensors[node["$a"]]._data
    if "$s" in node:
        return tensors[node["$s"]]._data[()]
    if "$d" in node:
        return {k: _decode_structure(v, tensors) for k, v in node["$d"]}
    if "$l" in node:
        return [_decode_structure(v, tensors) for v in node["$l"]]
    if "$u" in node:
        return tuple(_decode_structure(v, tensors) for v in node["$u"])
    raise ValueError(f"unknown entry {sorted(node)}")


def _tensor(tensor: Tensor, node: Mapping[str, Any]) -> Tensor:
    """The tensor a ``{"$t": ...}`` entry names, a Parameter and requiring grad as saved."""
    if node.get("p"):
        from chainrule.nn.parameter import Parameter

        return Parameter(tensor._data, requires_grad=bool(node.get("g")))
    if node.get("g"):
        tensor.requires_grad_(True)
    return tensor
