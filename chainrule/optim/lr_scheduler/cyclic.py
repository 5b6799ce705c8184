"""Schedules stepped once per batch that cycle the lr (and the momentum): ``CyclicLR`` and
``OneCycleLR``."""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

from chainrule.optim.lr_scheduler.base import LRScheduler, _check_int, _per_group
from chainrule.optim.optimizer import Optimizer


def _cycle_momentum(
    name: str, optimizer: Optimizer, base: Any, top: Any, last_epoch: int
) -> tuple[bool, list[float], list[float]]:
    """Cycling momentum: checks the optimiser has momentum or betas and, on a fresh start, puts
    each group's momentum (or beta1) at its top and records both ends in the group.

    Returns:
        ``(use_beta1, bottoms, tops)``, the ends one per parameter group.
    """
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{name}: cycle_momentum=True needs an optimiser with momentum or betas (SGD, Adam, "
            f"...), got {type(optimizer).__name__}; pass cycle_momentum=False"
        )
    use_beta1 = "betas" in optimizer.defaults
    bottoms = _per_group(name, optimizer, base, "base_momentum")
    tops = _per_group(name, optimizer, top, "max_momentum")
    if last_epoch == -1:
        for high, low, group in zip(tops, bottoms, optimizer.param_groups):
            _set_momentum(group, use_beta1, high)
            group["max_momentum"] = high
            group["base_momentum"] = low
    return use_beta1, bottoms, tops


def _set_momentum(group: dict[str, Any], use_beta1: bool, value: float) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _cycle_shape(step_size_up: float, step_size_down: float | None) -> tuple[float, float]:
    """CyclicLR's cycle length and the fraction of it spent rising, from the two step sizes."""
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    if not (up > 0 and down >= 0):
        raise ValueError(f"CyclicLR: step sizes must be > 0, got {step_size_up}, {step_size_down}")
    return up + down, up / (up + down)


def _check_cycle_mode(mode: str, scale_fn: Any, scale_mode: str) -> None:
    if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
        raise ValueError(
            f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' (or give "
            f"scale_fn), got {mode!r}"
        )
    if scale_mode not in ("cycle", "iterations"):
        raise ValueError(
            f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
        )


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017), stepped once per batch::

        cycle = floor(1 + n / (up + down));  x = 1 + n / (up + down) - cycle
        s     = x / r  if x <= r  else  (x - 1) / (r - 1)          (r = up / (up + down))
        lr    = base_lr + (max_lr - base_lr) · s · scale(cycle or n)

    scale is 1 (``triangular``), 1/2^(cycle-1) (``triangular2``), gamma^n (``exp_range``) or
    ``scale_fn``. With ``cycle_momentum`` the momentum (or beta1) moves inversely, between
    ``max_momentum`` and ``base_momentum``.

    Args: PyTorch's: optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode,
        gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
        max_momentum=0.9, last_epoch=-1.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ):
        self.optimizer = optimizer
        base_lrs = _per_group("CyclicLR", optimizer, base_lr, "base_lr")
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group("CyclicLR", optimizer, max_lr, "max_lr")
        self.total_size, self.step_ratio = _cycle_shape(step_size_up, step_size_down)
        _check_cycle_mode(mode, scale_fn, scale_mode)
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = (
            scale_mode
            if scale_fn is not None
            else ("iterations" if mode == "exp_range" else "cycle")
        )
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, self.base_momentums, self.max_momentums = _cycle_momentum(
                "CyclicLR", optimizer, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [
            base + (top - base) * scale_factor * self.scale_fn(at)
            for base, top in zip(self.base_lrs, self.max_lrs)
        ]
        if self.cycle_momentum:
            for bottom, top, group in zip(
                self.base_momentums, self.max_momentums, self.optimizer.param_groups
            ):
                _set_momentum(
                    group, self.use_beta1, top - (top - bottom) * scale_factor * self.scale_fn(at)
                )
        return lrs

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        fn = out.pop("_scale_fn_custom")
        out["_scale_fn_custom"] = (
            None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)
        )
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if saved is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved)


def _one_cycle_total(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    """OneCycleLR's number of steps: ``total_steps``, or ``epochs * steps_per_epoch``."""
    if total_steps is not None:
        return _check_int("OneCycleLR", "total_steps", total_steps, 1)
    if epochs is not None and steps_per_epoch is not None:
        return _check_int("OneCycleLR", "epochs", epochs, 1) * _check_int(
            "OneCycleLR", "steps_per_epoch", steps_per_epoch, 1
        )
    raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")


def _phase(end_step: float, lr: tuple[str, str], momentum: tuple[str, str]) -> dict[str, Any]:
    """One phase of 1cycle: its last step, and the group keys its lr and momentum go between."""
    return dict(end_step=end_step, start_lr=lr[0], end_lr=lr[1], start_momentum=momentum[0],
                end_momentum=momentum[1])  # fmt: skip


def _one_cycle_phases(pct_start: float, n: int, three_phase: bool) -> list[dict[str, Any]]:
    """PyTorch's phases of 1cycle over ``n`` steps: up to max_lr, (back to the initial lr,)
    down to min_lr, the momentum moving the other way."""
    up = _phase(
        float(pct_start * n) - 1, ("initial_lr", "max_lr"), ("max_momentum", "base_momentum")
    )
    if not three_phase:
        return [up, _phase(n - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum"))]
    return [
        up,
        _phase(
            float(2 * pct_start * n) - 2,
            ("max_lr", "initial_lr"),
            ("base_momentum", "max_momentum"),
        ),
        _phase(n - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum")),
    ]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), stepped once per batch: the lr rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of ``total_steps``, then
    anneals to ``initial_lr / final_div_factor`` (``three_phase``: back to the initial lr first,
    then down). Each phase anneals by ``cos`` (end + (start - end)(1 + cos(π p))/2) or ``linear``.
    With ``cycle_momentum`` the momentum (or beta1) moves the other way, between
    ``max_momentum`` and ``base_momentum``.

    Args: PyTorch's: optimizer, max_lr, total_steps or (epochs and steps_per_epoch),
        pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
        max_momentum=0.95, div_factor=25, final_div_factor=1e4, three_phase=False.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        self.optimizer = optimizer
        self.total_steps = _one_cycle_total(total_steps, epochs, steps_per_epoch)
        if (
            isinstance(pct_start, bool)
            or not isinstance(pct_start, float)
            or not 0 <= pct_start <= 1
        ):
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = _one_cycle_phases(pct_start, self.total_steps, three_phase)
        max_lrs = _per_group("OneCycleLR", optimizer, max_lr, "max_lr")
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, _, _ = _cycle_momentum(
                "OneCycleLR", optimizer, base_momentum, max_momentum, last_epoch
            )
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step_num} times, but total_steps is {self.total_steps}; "
                "make total_steps (or epochs * steps_per_epoch) cover every scheduler.step()"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        m = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                _set_momentum(group, self.use_beta1, m)
        return lrs
