"""Learning-rate schedules: ``StepLR``, ``CosineAnnealingLR``, ``ReduceLROnPlateau``.

A scheduler changes ``group["lr"]`` of its optimiser's parameter groups; call its ``step()``
once per epoch, after the epoch's ``optimizer.step()`` calls. The sequences of learning rates
are PyTorch's, computed the same way (recursively from the current lr where PyTorch does, so that
schedules compose with other changes to the lr and agree to the last bit).
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import recorded
from chainrule.autograd.tensor import Tensor
from chainrule.optim.optimizer import Optimizer


class LRScheduler:
    """Base class of the epoch-indexed schedules.

    Args:
        optimizer: the optimiser whose learning rates are scheduled.
        last_epoch: the index of the last epoch done; -1 starts the schedule. To resume, prefer
            ``load_state_dict`` (a value >= 0 needs ``initial_lr`` in every parameter group).

    Attributes:
        base_lrs: each group's lr when the schedule started (``group["initial_lr"]``).
        last_epoch: how many times ``step()`` has been called since the start.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for k, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                        f"'initial_lr' in param_groups[{k}]; load the optimiser's state dict "
                        "first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        self.step()  # epoch 0: sets the lr of the start of the schedule
        self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for epoch ``last_epoch`` (one per group)."""
        raise NotImplementedError

    @recorded
    def step(self) -> None:
        """Advances the schedule by one epoch and sets each group's lr."""
        self._step_count += 1
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position and settings (everything but the optimiser): plain Python
        numbers and lists, JSON-serialisable (e.g. for checkpoint metadata)."""
        return {k: _copy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what ``state_dict()`` returned. The optimiser's learning rates are part of
        the optimiser's own state dict; load that too."""
        unknown = set(state_dict) - set(self.__dict__)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: unknown keys {sorted(unknown)}; is this "
                "the state of another kind of scheduler?"
            )
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})


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


class CosineAnnealingLR(LRScheduler):
    """Anneals the learning rate along a half cosine from ``base_lr`` to ``eta_min`` over
    ``T_max`` epochs::

        lr(epoch) = eta_min + (base_lr - eta_min) · (1 + cos(π · epoch / T_max)) / 2

    Past ``T_max`` the curve continues (rising back to base_lr at 2·T_max), as in PyTorch.
    Computed, like PyTorch, recursively from the current lr, which equals the formula when
    nothing else changes the lr.

    Args:
        optimizer: the optimiser to schedule.
        T_max: the number of epochs of the descent (>= 1).
        eta_min: the lowest learning rate (>= 0).
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be an integer >= 1, got {T_max!r}")
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            if e == 0:
                return [group["lr"] for group in groups]
            # Resuming at last_epoch > 0: no previous lr to recurse from; use the closed form.
            return [
                eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (e - 1 - T) % (2 * T) == 0:
            # The bottom of the curve, where the ratio below would divide by 1 + cos(π) = 0.
            return [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in groups]


class ReduceLROnPlateau:
    """Reduces the learning rate when a metric has stopped improving, as PyTorch's.

    Each ``step(metric)`` compares the metric with the best seen so far. An epoch counts as
    better when (mode 'min', threshold_mode 'rel') ``metric < best · (1 - threshold)``, or
    ('min', 'abs') ``metric < best - threshold`` (and mirrored for mode 'max'). After more than
    ``patience`` epochs in a row that are not better, every group's lr becomes
    ``max(lr · factor, min_lr)`` (changes smaller than ``eps`` are skipped), and the count waits
    ``cooldown`` epochs before starting again.

    Args:
        optimizer: the optimiser to schedule.
        mode: 'min' (a loss) or 'max' (an accuracy).
        factor: the multiplier, in (0, 1).
        patience: how many bad epochs to tolerate (>= 0).
        threshold: the margin an improvement must beat (>= 0).
        threshold_mode: 'rel' or 'abs'.
        cooldown: epochs to wait after a reduction before counting bad epochs (>= 0).
        min_lr: a lower bound on the lr: one number, or one per parameter group.
        eps: the smallest change of lr worth making.

    Example:
        >>> sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=3)
        >>> for epoch in range(50):
        ...     train_one_epoch(); sched.step(validation_loss())
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ):
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        if not 0 < factor < 1:
            raise ValueError(f"{name}: factor must be in (0, 1), got {factor!r}")
        for key, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: {key} must be an integer >= 0, got {value!r}")
        if not threshold >= 0:
            raise ValueError(f"{name}: threshold must be >= 0, got {threshold!r}")
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"{name}: expected {n} min_lr values (one per group), got {len(min_lr)}"
                )
            self.min_lrs = [float(v) for v in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * n
        self.optimizer = optimizer
        self.mode = mode
        self.factor = float(factor)
        self.patience = patience
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.eps = float(eps)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, metrics: float | Tensor) -> None:
        """Records one epoch's metric (a number or a one-element tensor); may reduce the lr."""
        current = metrics.item() if isinstance(metrics, Tensor) else float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _is_better(self, a: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return a < best * (1.0 - th) if self.threshold_mode == "rel" else a < best - th
        return a > best * (th + 1.0) if self.threshold_mode == "rel" else a > best + th

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise RuntimeError(
                f"ReduceLROnPlateau: the optimiser has {len(groups)} parameter groups, but "
                f"{len(self.min_lrs)} min_lr values were given (a group was added since)"
            )
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def get_last_lr(self) -> list[float]:
        """The learning rates after the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimiser: plain numbers, strings and lists (``best`` may be
        ±inf, which Python's json writes as Infinity)."""
        return {k: _copy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what ``state_dict()`` returned."""
        unknown = set(state_dict) - set(self.__dict__)
        if unknown:
            raise ValueError(
                f"ReduceLROnPlateau.load_state_dict: unknown keys {sorted(unknown)}; is this the "
                "state of another kind of scheduler?"
            )
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
