"""``SequentialLR``: schedules one after another, switching at milestones."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.optim.lr_scheduler.base import LRScheduler, _copy
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau
from chainrule.optim.optimizer import Optimizer


class SequentialLR:
    """Runs schedules one after another: ``schedulers[i]`` from ``milestones[i-1]`` on. At a
    milestone the next schedule starts from its own epoch 0, as in PyTorch.

    Args:
        optimizer: the optimiser all the schedules belong to.
        schedulers: the schedules (built on ``optimizer``; not ReduceLROnPlateau).
        milestones: ``len(schedulers) - 1`` increasing epochs.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ):
        if len(schedulers) < 1:
            raise ValueError("SequentialLR: expected at least one scheduler, got none")
        for k, sched in enumerate(schedulers):
            if isinstance(sched, ReduceLROnPlateau) or not isinstance(sched, LRScheduler):
                raise ValueError(
                    f"SequentialLR: schedulers[{k}] is a {type(sched).__name__}; only epoch "
                    "schedules (LRScheduler) can be sequenced (ReduceLROnPlateau needs a metric)"
                )
            if sched.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{k}] belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(schedulers) - 1} milestones for {len(schedulers)} "
                f"schedulers, got {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Undo what building the schedules did, then start the first one afresh.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for sched in self._schedulers:
            sched.last_epoch -= 1
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    @replayed_whole
    def step(self) -> None:
        """Advances by one epoch, switching schedule at a milestone."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            sched._update_lr(0)
        else:
            sched.step()
        self._last_lr = sched.get_last_lr()

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """This schedule's position, with each inner schedule's state dict."""
        out = {
            k: _copy(v) for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")
        }
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what ``state_dict()`` returned, inner schedules included."""
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: {len(inner)} saved schedules, {len(self._schedulers)} here"
            )
        self.__dict__.update({k: _copy(v) for k, v in state.items()})
        for sched, saved in zip(self._schedulers, inner):
            sched.load_state_dict(saved)
