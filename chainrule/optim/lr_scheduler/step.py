"""The multiplicative schedules: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``ConstantLR``,
``LinearLR``, ``LambdaLR`` and ``MultiplicativeLR``. Each computes what PyTorch's computes, in
the same order of operations, so the sequences agree to the last bit."""

from __future__ import annotations

import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from typing import Any

from chainrule.optim.lr_scheduler.base import LRScheduler, _check_int, _copy, _per_group
from chainrule.optim.optimizer import Optimizer


class StepLR(LRScheduler):
    """Multiplies the learning rate by ``gamma`` every ``step_size`` epochs::

        lr(epoch) = base_lr · gamma ^ floor(epoch / step_size)

    Args:
        optimizer: the optimiser to schedule.
        step_size: the period, in epochs (>= 1).
        gamma: the factor (> 0; usually < 1).

    Example:
        >>> sched = cr.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
        >>> for epoch in range(100):
        ...     train_one_epoch(); sched.step()
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an integer >= 1, got {step_size!r}")
        if not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma!r}")
        self.step_size = step_size
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]

    def _get_closed_form_lr(self) -> list[float]:
        """``lr(epoch)`` from the formula (``step(epoch)`` and SequentialLR's restarts use it)."""
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class _LambdaState:
    """state_dict/load_state_dict for schedules holding user functions: as in PyTorch, plain
    functions and lambdas are not saved (they are code); callable objects save their ``__dict__``."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        out = {
            k: _copy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")
        }
        out["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
            for fn in self.lr_lambdas
        ]
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        LRScheduler.load_state_dict(self, state)  # type: ignore[arg-type]
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


def _lambdas(name: str, optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    fns = _per_group(name, optimizer, lr_lambda, "lr_lambda")
    for fn in fns:
        if not callable(fn):
            raise TypeError(
                f"{name}: lr_lambda must be a function of the epoch, got {type(fn).__name__}"
            )
    return fns


class LambdaLR(_LambdaState, LRScheduler):
    """Sets each group's lr to its initial lr times a function of the epoch::

        lr(epoch) = base_lr · lr_lambda(epoch)

    Args:
        optimizer: the optimiser to schedule.
        lr_lambda: a function of the epoch (an int), or a list of them, one per group.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1):
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """Multiplies each group's lr by a function of the epoch at every epoch after the first::

        lr(epoch) = lr(epoch - 1) · lr_lambda(epoch)

    Args:
        optimizer: the optimiser to schedule.
        lr_lambda: a function of the epoch, or a list of them, one per group.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1):
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [g["lr"] for g in groups]
        return [g["lr"] * fn(self.last_epoch) for fn, g in zip(self.lr_lambdas, groups)]


class MultiStepLR(LRScheduler):
    """Multiplies the lr by ``gamma`` at each milestone (a milestone listed twice, twice)::

        lr(epoch) = base_lr · gamma ^ (number of milestones <= epoch)

    Args:
        optimizer: the optimiser to schedule.
        milestones: epoch indices (integers >= 0). gamma: the factor (> 0).
    """

    def __init__(
        self, optimizer: Optimizer, milestones: Any, gamma: float = 0.1, last_epoch: int = -1
    ):
        milestones = list(milestones)
        for m in milestones:
            _check_int("MultiStepLR", "each milestone", m, 0)
        if not gamma > 0:
            raise ValueError(f"MultiStepLR: gamma must be > 0, got {gamma!r}")
        self.milestones = dict(Counter(milestones))
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch not in self.milestones:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma ** self.milestones[self.last_epoch] for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        ms = sorted(Counter(self.milestones).elements())
        return [base * self.gamma ** bisect_right(ms, self.last_epoch) for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        # PyTorch's and JSON's milestones: a Counter, or a dict whose keys became strings.
        state["milestones"] = {int(k): int(v) for k, v in dict(state["milestones"]).items()}
        super().load_state_dict(state)


class ExponentialLR(LRScheduler):
    """Multiplies the lr by ``gamma`` every epoch: ``lr(epoch) = base_lr · gamma ^ epoch``.

    Args:
        optimizer: the optimiser to schedule. gamma: the factor (> 0).
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        if not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be > 0, got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [g["lr"] for g in groups]
        return [g["lr"] * self.gamma for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """Holds the lr at ``factor · base_lr`` for the first ``total_iters`` epochs, then
    ``base_lr`` (a warm-up)::

        lr(epoch) = base_lr · (factor if epoch < total_iters else 1)

    Args:
        optimizer: the optimiser to schedule. factor: in [0, 1].
        total_iters: epochs at the reduced lr (>= 0).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor!r}")
        self.factor = float(factor)
        self.total_iters = _check_int("ConstantLR", "total_iters", total_iters, 0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.factor for g in groups]
        if self.last_epoch != self.total_iters:
            return [g["lr"] for g in groups]
        return [g["lr"] * (1.0 / self.factor) for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Changes the lr linearly from ``start_factor · base_lr`` to ``end_factor · base_lr`` over
    ``total_iters`` epochs, then holds it::

        lr(epoch) = base_lr · (start + (end - start) · min(epoch, total_iters) / total_iters)

    Computed recursively from the current lr, as PyTorch does.

    Args:
        optimizer: the optimiser to schedule. start_factor: in (0, 1]. end_factor: in [0, 1].
        total_iters: the length of the ramp in epochs (>= 1).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = _check_int("LinearLR", "total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [g["lr"] for g in groups]
        s, e = self.start_factor, self.end_factor
        ratio = 1.0 + (e - s) / (self.total_iters * s + (self.last_epoch - 1) * (e - s))
        return [g["lr"] * ratio for g in groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        return [base * (s + (e - s) * min(n, self.last_epoch) / n) for base in self.base_lrs]
