"""What trainers put in and take out of checkpoints: an optimiser's state dict split into arrays
and JSON metadata (and joined back), weights loaded into a model with every mismatch named,
and the one-line errors for metadata that is not as expected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.serialization.structure import CheckpointError, flatten


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
        arr = value._data if isinstance(value, Tensor) else xp.asarray(value)
        target = own.get(name)
        if target is None or arr.shape != target.shape:
            continue  # load_state_dict below names them all
        if arr.dtype.kind == "c":
            raise CheckpointError(
                f"{path}: tensor {name!r} is {arr.dtype}, but the model's {name} is real "
                f"({target.dtype}); the file was altered or not written by chainrule"
            )
        if target.dtype.kind == "f" and arr.dtype.kind == "f" and arr.size:
            limit = xp.finfo(target.dtype).max
            finite = arr[xp.isfinite(arr)]
            if finite.size and xp.abs(finite).max() > limit:
                raise CheckpointError(
                    f"{path}: tensor {name!r} holds {xp.abs(finite).max():.4g}, too large for "
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
) -> tuple[dict[str, xp.ndarray], dict[str, Any]]:
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
    tensors: dict[str, xp.ndarray] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state_dict["state"].items():
        for name, value in entry.items():
            if "." in str(name):
                raise ValueError(f"split_optimizer_state: state name {name!r} contains a dot")
            if isinstance(value, Tensor):
                value = value._data
            if isinstance(value, xp.ndarray):
                tensors[f"state.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = (
                    value.item() if isinstance(value, xp.generic) else value
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
