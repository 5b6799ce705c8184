"""The base class of the epoch-indexed schedules, and the checks they share."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
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
        self._initial_step()

    def _initial_step(self) -> None:
        """Epoch 0: sets the lr of the start of the schedule (``get_lr`` sees ``_is_initial``)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for epoch ``last_epoch`` (one per group)."""
        raise NotImplementedError

    @replayed_whole
    def step(self, epoch: int | None = None) -> None:
        """Advances the schedule by one epoch and sets each group's lr. ``epoch`` (deprecated
        in PyTorch, accepted as there) jumps to that epoch, by the closed form where the
        schedule has one."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            lrs = closed() if closed is not None else self.get_lr()
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
        the optimiser's own state dict; load that too. PyTorch's own schedulers' states load
        as well: their ``_get_lr_called_within_step`` (a flag that only lives inside torch's
        ``step()``, for a warning) is set aside."""
        state_dict = {k: v for k, v in state_dict.items() if k not in _TORCH_BOOKKEEPING}
        unknown = set(state_dict) - set(self.__dict__)
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: unknown keys {sorted(unknown)}; is this "
                "the state of another kind of scheduler?"
            )
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})


# Keys of PyTorch's scheduler states that mean nothing outside torch's step().
_TORCH_BOOKKEEPING = frozenset({"_get_lr_called_within_step"})


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _per_group(name: str, optimizer: Optimizer, value: Any, what: str) -> list[Any]:
    """``value`` once per parameter group: a list/tuple of that length, or one value for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name}: expected {n} values of {what} (one per group), got {len(value)}"
            )
        return list(value)
    return [value] * n


def _check_int(name: str, key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: {key} must be an integer >= {low}, got {value!r}")
    return value
