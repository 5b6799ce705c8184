"""Checks of the parts of a training state that ``--resume`` hands to NumPy, the schedule and
the optimiser: each malformed one is refused by name (``metadata_error``) before anything is
built from it, instead of failing inside them with a message that names nothing ("string
indices must be integers", "invalid literal for int()")."""

from __future__ import annotations

import math
from typing import Any

from chainrule import random as cr_random
from chainrule.serialization import CheckpointError, metadata_error

_INT64 = 2**63


def _count(value: Any, low: int = 0) -> bool:
    """An int (not a bool) in ``[low, 2**63)``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < _INT64


def _real(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reals(value: Any) -> bool:
    return isinstance(value, list) and all(map(_real, value))


def check_rng(path: str, key: str, value: Any) -> None:
    """Refuses a random generator state that NumPy's generator of this library's kind does not
    take: tried on a generator of that kind made for the purpose, never on the library's."""
    probe = type(cr_random.generator().bit_generator)()
    try:
        probe.state = value
    except Exception:  # NumPy raises TypeError, ValueError, KeyError, OverflowError, ...
        kind = type(probe).__name__
        raise metadata_error(path, key, f"a random generator state ({kind}'s)", value) from None


# The state of the trainers' schedule (CosineAnnealingLR): each key and what it must hold.
_SCHEDULE = {
    "T_max": (lambda v: _count(v, 1), "a whole number >= 1"),
    "eta_min": (_real, "a finite number"),
    "base_lrs": (_reals, "a list of finite numbers"),
    "last_epoch": (lambda v: _count(v, -1), "a whole number >= -1"),
    "_step_count": (_count, "a whole number >= 0"),
    "_is_initial": (lambda v: isinstance(v, bool), "true or false"),
    "_last_lr": (_reals, "a list of finite numbers"),
}


def check_scheduler(path: str, value: Any) -> None:
    """Refuses a learning-rate schedule's state (None: a constant rate) that is not the one
    the trainers write, naming the key."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise metadata_error(path, "scheduler", "a dict", value)
    for key, item in value.items():
        if key not in _SCHEDULE:
            raise metadata_error(path, "scheduler", f"a dict of {sorted(_SCHEDULE)}", key)
        ok, expected = _SCHEDULE[key]
        if not ok(item):
            raise metadata_error(path, f"scheduler.{key}", expected, item)
    for key in ("T_max", "base_lrs", "last_epoch"):
        if key not in value:
            raise metadata_error(path, "scheduler", f"a dict with {key!r}", value)


def _plain(value: Any) -> bool:
    """A JSON scalar, or a list of them (an optimiser's hyperparameters: betas is a pair)."""
    scalar = (bool, int, float, str, type(None))
    return isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    )


def check_optimizer(path: str, value: Any) -> None:
    """Refuses the metadata half of an optimiser's state (``split_optimizer_state``) that is not
    ``{"state": {"<index>": {name: number}}, "param_groups": [{"params": [index, ...], ...}]}``,
    naming the entry; what the optimiser itself checks (hyperparameters' values, the number of
    parameters) is refused by ``restore``, naming the file."""
    if not isinstance(value, dict) or set(value) != {"state", "param_groups"}:
        raise metadata_error(path, "optimizer", "a dict of 'state' and 'param_groups'", value)
    state, groups = value["state"], value["param_groups"]
    if not isinstance(state, dict):
        raise metadata_error(path, "optimizer.state", "a dict", state)
    for index, entry in state.items():
        if not (index.isdigit() and len(index) <= 18):
            raise metadata_error(path, "optimizer.state", "keys that are parameter indices", index)
        if not isinstance(entry, dict) or not all(map(_plain, entry.values())):
            raise metadata_error(path, f"optimizer.state.{index}", "a dict of numbers", entry)
        if "step" in entry and not _count(entry["step"]):
            raise metadata_error(
                path, f"optimizer.state.{index}.step", "a whole number >= 0", entry["step"]
            )
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise metadata_error(path, "optimizer.param_groups", "a list of dicts", groups)
    for k, group in enumerate(groups):
        params = group.get("params")
        if not isinstance(params, list) or not all(_count(i) for i in params):
            raise metadata_error(
                path, f"optimizer.param_groups[{k}].params", "a list of parameter indices", params
            )
        for key, item in group.items():
            if key != "params" and not _plain(item):
                raise metadata_error(
                    path, f"optimizer.param_groups[{k}].{key}", "a number or a list", item
                )


def _whole_numbers(value: Any) -> bool:
    """A dict of ints >= 0 (not bools; a seed may be any size)."""
    return isinstance(value, dict) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
    )


def check_loader(path: str, value: Any) -> None:
    """Refuses a data loader's state (seed, epoch, position, and a data-parallel run's
    sampler's) that is not whole numbers; the loader itself checks that they fit the data."""
    if not isinstance(value, dict):
        raise metadata_error(path, "loader", "a dict of whole numbers >= 0", value)
    if not _whole_numbers({k: v for k, v in value.items() if k != "sampler"}):
        raise metadata_error(path, "loader", "a dict of whole numbers >= 0", value)
    if "sampler" in value and not _whole_numbers(value["sampler"]):
        raise metadata_error(path, "loader.sampler", "a dict of whole numbers >= 0", value)


def load_into(path: str, key: str, what: str, load, value) -> None:
    """Calls ``load(value)`` (a ``load_state_dict``), refusing what it refuses naming ``path``,
    ``key`` and ``what`` the value must fit, as every other malformed field is refused."""
    try:
        load(value)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{path}: malformed metadata: '{key}' does not fit this run's {what}: {e}; "
            "the file was altered or not written by chainrule"
        ) from None


def check_position(path: str, value: Any) -> None:
    """Refuses a loop position that is not ``{"epoch": E, "step": S}`` with whole numbers."""
    if not (
        isinstance(value, dict)
        and set(value) == {"epoch", "step"}
        and all(_count(v) for v in value.values())
    ):
        raise metadata_error(
            path, "position", '{"epoch": E, "step": S} with whole numbers >= 0', value
        )


def check_dicts(path: str, meta: dict, keys: tuple[str, ...]) -> None:
    """Refuses each of ``keys`` of ``meta`` that is missing or not a dict, naming it."""
    for key in keys:
        if not isinstance(meta.get(key), dict):
            raise metadata_error(path, key, "a dict", meta.get(key))
