"""Cosine annealing: ``CosineAnnealingLR`` and ``CosineAnnealingWarmRestarts`` (SGDR)."""

from __future__ import annotations

import math

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.optim.lr_scheduler.base import LRScheduler, _check_int
from chainrule.optim.optimizer import Optimizer


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

    def _get_closed_form_lr(self) -> list[float]:
        """``lr(epoch)`` from the formula (``step(epoch)`` and SequentialLR's restarts use it)."""
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [
            eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T)) / 2
            for base in self.base_lrs
        ]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter, 2017)::

        lr = eta_min + (base_lr - eta_min) · (1 + cos(π · T_cur / T_i)) / 2

    T_cur counts epochs since the last restart; a restart happens when T_cur reaches T_i, and
    each period is ``T_mult`` times the previous (T_0 the first). ``step(epoch)`` accepts a
    fractional epoch, as in PyTorch (for stepping per batch: ``epoch + i / iters``).

    Args:
        optimizer: the optimiser to schedule. T_0: the first period (>= 1).
        T_mult: the growth of the period (an integer >= 1). eta_min: the lowest lr.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ):
        self.T_0 = _check_int("CosineAnnealingWarmRestarts", "T_0", T_0, 1)
        self.T_i = T_0
        self.T_mult = _check_int("CosineAnnealingWarmRestarts", "T_mult", T_mult, 1)
        if isinstance(eta_min, bool) or not isinstance(eta_min, (int, float)):
            raise ValueError(
                f"CosineAnnealingWarmRestarts: eta_min must be a number, got {eta_min!r}"
            )
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base in self.base_lrs
        ]

    @replayed_whole
    def step(self, epoch: float | None = None) -> None:
        """Advances by one epoch, or jumps to ``epoch`` (may be fractional)."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(
                    f"CosineAnnealingWarmRestarts.step: epoch must be >= 0, got {epoch}"
                )
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** (n)
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]
