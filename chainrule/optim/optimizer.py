"""``Optimizer``: the base class that every optimiser shares.

It owns what is common to all of them: parameter groups (each with its own hyperparameters),
the validation of those hyperparameters, per-parameter state keyed by the parameter's index,
``zero_grad()``, and ``state_dict()`` / ``load_state_dict()`` in PyTorch's layout. A subclass
supplies ``_check_group`` (validate and normalise one group's hyperparameters) and ``step``
(the update rule, written on raw NumPy arrays, in place).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.autograd.creation import from_numpy
from chainrule.autograd.grad_mode import enable_grad
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import kind as _kind
from chainrule.backend import xp

ParamsT = Iterable[Tensor] | Iterable[Mapping[str, Any]]


class Optimizer:
    """Base class of the optimisers: parameter groups, per-parameter state, state dicts.

    Args:
        params: an iterable of Tensors (usually ``model.parameters()``), or of dicts, each a
            parameter group ``{"params": [...], "lr": ..., ...}`` whose options override
            ``defaults`` for its parameters (e.g. a smaller learning rate for a pretrained part).
        defaults: the hyperparameters of a group that does not set them.

    Attributes:
        param_groups: list of dicts; ``group["params"]`` is the list of Tensors, the other keys
            are that group's hyperparameters. Schedulers change ``group["lr"]``.
        state: parameter index -> dict of that parameter's state (moment estimates, step count).
            Indices count parameters across groups in order, as in PyTorch's state dicts.

    PyTorch's implementation switches are accepted as keywords on every optimiser:
    ``maximize=True`` ascends (the gradient's sign flipped before the rule); ``foreach`` changes
    nothing here (there is one implementation); ``capturable``, ``differentiable`` and ``fused``
    must be False or None (chainrule has no CUDA graphs, no differentiable steps, no fused
    kernels) and say so otherwise.

    Updates are made in place on the parameter's array, keep the parameter's dtype, and
    never write to ``p.grad`` (a gradient may share memory with something else). Parameters whose
    ``grad`` is None are skipped.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every optimiser here marks step() with @replayed_whole itself; an optimiser a user
        # writes is marked here, so that cr.compile replays its in-place updates as one call
        # instead of losing them (they write parameters' arrays, which no op records).
        for name in ("step", "zero_grad"):
            fn = cls.__dict__.get(name)
            if fn is not None and not getattr(fn, "__replayed_whole__", False):
                setattr(cls, name, replayed_whole(fn))

    def __init__(self, params: ParamsT, defaults: Mapping[str, Any]):
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (parameter groups), "
                "got a single Tensor; pass [tensor] or model.parameters()"
            )
        if isinstance(params, Mapping):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts; got a single dict, "
                "pass a list of parameter groups: [{'params': [...], 'lr': ...}]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: params must be an ordered iterable (a list, or model.parameters()), "
                "got a set, whose order changes between runs and would scramble state dicts"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- parameter groups -----
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Adds a group of parameters with its own hyperparameters (the others from defaults).

        Useful for fine-tuning: unfreeze layers and add them to the optimiser as training goes.
        """
        name = type(self).__name__
        if not isinstance(param_group, Mapping):
            raise TypeError(
                f"{name}: a parameter group must be a dict with a 'params' key, got "
                f"{type(param_group).__name__} (params must be all Tensors or all dicts)"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} has no 'params'")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a group's params must be ordered (a list), not a set")
        else:
            params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for j, p in enumerate(params):
            where = f"{name}: parameter {j} of group {len(self.param_groups)}"
            if not isinstance(p, Tensor):
                raise TypeError(f"{where} is a {type(p).__name__}, expected a Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"{where} is not a leaf tensor (it is the result of an op); optimise the "
                    "tensor you created, not a computation on it"
                )
            if _kind(p._data.dtype) not in "fc":
                raise TypeError(f"{where} has dtype {p._data.dtype}; only floating tensors learn")
            if id(p) in seen:
                raise ValueError(
                    f"{where} appears more than once in the optimiser's parameters; it would be "
                    "updated twice per step"
                )
            seen.add(id(p))
        group: dict[str, Any] = {"params": params}
        for key, default in self.defaults.items():
            group[key] = param_group.get(key, default)
        for key, value in param_group.items():
            group.setdefault(key, value)  # extra keys are kept, as PyTorch does
        self._check_group(group)
        check_torch_flags(name, group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validates a group's hyperparameters and normalises them in place (Python floats).

        Raises ValueError/TypeError naming the optimiser, the hyperparameter and the bad value.
        """
        raise NotImplementedError

    # ----- training -----
    @replayed_whole
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forgets the gradients: sets every parameter's ``grad`` to None (or, with
        ``set_to_none=False``, to a new array of zeros; the old gradient is never written to)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = constant(xp.zeros_like(p._data))

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient, once. Returns ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss (it is called with gradients
        enabled, before the update), as in PyTorch.
        """
        raise NotImplementedError

    def _evaluate(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _with_grads(self) -> Iterator[tuple[dict[str, Any], list[tuple[int, xp.ndarray, Any]]]]:
        """For each group: the group and ``[(index, param array, grad array)]`` of its parameters
        that have a gradient. The grad array is cast to the parameter's dtype if it differs."""
        i = 0
        for group in self.param_groups:
            todo = []
            maximize = group.get("maximize")
            for p in group["params"]:
                g = p._grad
                if g is not None:
                    data = p._data
                    g = g._data if type(g) is Tensor or isinstance(g, Tensor) else xp.asarray(g)
                    if g.shape != data.shape:
                        raise ValueError(
                            f"{type(self).__name__}.step: parameter {i} has shape {data.shape} "
                            f"but its grad has shape {g.shape}"
                        )
                    if g.dtype != data.dtype:
                        g = g.astype(data.dtype)
                    if maximize:
                        g = -g  # ascend: a new array, p.grad is left alone
                    todo.append((i, data, g))
                i += 1
            yield group, todo

    # ----- state dicts -----
    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimiser in PyTorch's layout::

            {"state": {index: {"step": int, "exp_avg": Tensor, ...}, ...},
             "param_groups": [{"lr": ..., ..., "params": [index, ...]}, ...]}

        State arrays are copies, as Tensors (PyTorch's form, so that ``cr.save(..., "x.pt")``
        writes what ``torch.load(weights_only=True)`` reads), and the snapshot does not change
        as training goes on. Parameters are named by index (their position across groups).
        """
        groups = []
        i = 0
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            n = len(group["params"])
            packed["params"] = list(range(i, i + n))
            i += n
            groups.append(packed)
        state = {
            idx: {k: from_numpy(v.copy()) if isinstance(v, xp.ndarray) else v for k, v in s.items()}
            for idx, s in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores a snapshot made by ``state_dict()`` (or by PyTorch, arrays converted).

        The optimiser must have been built on parameters of the same shapes, grouped the same
        way. Hyperparameters come from the snapshot; state arrays are copied and cast to each
        parameter's dtype. Nothing changes unless every check passes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', got "
                f"{type(state_dict).__name__}"
                + (f" with keys {list(state_dict)}" if isinstance(state_dict, Mapping) else "")
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"group(s) but this optimiser has {len(self.param_groups)}"
            )
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {k} has {len(saved['params'])} "
                    f"parameter(s) in the state dict but {len(group['params'])} here"
                )
            for idx, p in zip(saved["params"], group["params"]):
                by_index[int(idx)] = p
            new = dict(group)
            new.update({key: copy.deepcopy(v) for key, v in saved.items() if key != "params"})
            self._check_group(new)
            check_torch_flags(name, new)
            new_groups.append(new)
        position = {
            id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])
        }
        new_state: dict[int, dict[str, Any]] = {}
        for idx, saved_state in state_dict["state"].items():
            idx = int(idx)  # JSON and dotted checkpoint keys make indices strings
            if idx not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: there is state for parameter {idx}, but no "
                    "parameter group lists that index"
                )
            p = by_index[idx]
            new_state[position[id(p)]] = {
                key: _load_value(name, idx, key, v, p._data) for key, v in saved_state.items()
            }
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for k, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {k}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join([*lines, ")"])


def _load_value(name: str, idx: int, key: str, value: Any, like: xp.ndarray) -> Any:
    """One entry of a parameter's saved state, made ready to use: the step an int, arrays
    copied in the parameter's dtype and checked against its shape."""
    if key == "step":
        return int(xp.asarray(value._data if isinstance(value, Tensor) else value).item())
    if value is None or isinstance(value, (bool, numbers.Number, str)):
        return value
    arr = value._data if isinstance(value, Tensor) else xp.asarray(value)
    if arr.shape != like.shape:
        raise ValueError(
            f"{name}.load_state_dict: state '{key}' of parameter {idx} has shape {arr.shape}, "
            f"but the parameter has shape {like.shape}"
        )
    return xp.array(arr, dtype=like.dtype, copy=True)


# ----- hyperparameter validation, shared by the optimisers -----
def check_real(opt: str, key: str, value: Any, low: float | None = 0.0) -> float:
    """``value`` as a Python float (so that float32 parameters stay float32: NumPy float64
    scalars would upcast the updates), checked to be a real number ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{opt}: {key} must be a real number, got {value!r}")
    value = float(value)
    if low is not None and not value >= low:  # `not >=` also rejects NaN
        raise ValueError(f"{opt}: invalid {key} {value}; it must be >= {low:g}")
    return value


TORCH_FLAGS = ("maximize", "foreach", "capturable", "differentiable", "fused")


def torch_flags(opt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The PyTorch implementation switches among an optimiser's extra keyword arguments, with
    their defaults; any other keyword is a TypeError, as Python would raise."""
    unknown = sorted(set(options) - set(TORCH_FLAGS))
    if unknown:
        raise TypeError(f"{opt}: unexpected keyword argument(s) {', '.join(unknown)}")
    flags = {"maximize": False, "foreach": None, "differentiable": False}
    flags.update(options)
    return flags


def check_torch_flags(opt: str, group: dict[str, Any]) -> None:
    """Validates the PyTorch switches present in a group (see ``Optimizer``)."""
    if "maximize" in group:
        group["maximize"] = check_bool(opt, "maximize", group["maximize"])
    if group.get("foreach") is not None:
        group["foreach"] = check_bool(opt, "foreach", group["foreach"])
    for key in ("capturable", "differentiable", "fused"):
        if group.get(key):
            raise ValueError(
                f"{opt}: {key}=True is not supported: chainrule's optimisers update NumPy arrays "
                f"on the CPU in one implementation; leave {key} unset"
            )


def check_betas(opt: str, betas: Any) -> tuple[float, float]:
    """``betas`` as a pair of Python floats, each checked to lie in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{opt}: betas must be a pair (beta1, beta2), got {betas!r}")
    out = tuple(check_real(opt, f"beta{k + 1}", b) for k, b in enumerate(betas))
    for k, b in enumerate(out):
        if b >= 1.0:
            raise ValueError(f"{opt}: invalid beta{k + 1} {b}; it must be in [0, 1)")
    return out  # type: ignore[return-value]


def check_bool(opt: str, key: str, value: Any) -> bool:
    if not isinstance(value, (bool, xp.bool_)):
        raise TypeError(f"{opt}: {key} must be True or False, got {value!r}")
    return bool(value)


def with_weight_decay(g: xp.ndarray, p: xp.ndarray, weight_decay: float) -> xp.ndarray:
    """``g + weight_decay * p`` as a new array (the L2 penalty's gradient added; ``g`` is left
    alone because it may be the parameter's ``.grad``)."""
    d = xp.multiply(p, weight_decay, out=xp.empty_like(p))  # out=: 0-d stays an array
    d += g
    return d


def lerp_(a: xp.ndarray, b: xp.ndarray, weight: float, tmp: xp.ndarray) -> None:
    """``a <- a + weight * (b - a)`` in place, rounded as ``torch.lerp`` rounds it (from the
    nearer end: for ``weight >= 0.5`` as ``b - (b - a) * (1 - weight)``). ``tmp`` is scratch
    space of ``a``'s shape."""
    xp.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        xp.subtract(b, tmp, out=a)
