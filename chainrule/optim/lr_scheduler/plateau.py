"""``ReduceLROnPlateau``: the lr falls when a metric stops improving."""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.optim.lr_scheduler.base import _copy
from chainrule.optim.optimizer import Optimizer


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
