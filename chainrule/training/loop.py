"""The one training loop, behind ``chainrule train`` and ``chainrule caption train``.

``fit`` runs epochs of steps from a position, with a progress bar, the NaN/Inf stop, an
optional time budget, the learning-rate schedule, one row of figures per epoch and a checkpoint
after each; what is trained, and how its figures and files look, is the ``Task``'s.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chainrule.errors import require_extra
from chainrule.optim.lr_scheduler import CosineAnnealingLR, LRScheduler


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; the last good checkpoint was kept."""


def diverged(loss: float, epoch: int, step: int, kept: str) -> TrainingDiverged:
    """The error for a loss that became ``loss`` (NaN or Inf) at 0-based ``epoch`` and ``step``,
    naming the checkpoint ``kept``."""
    return TrainingDiverged(
        f"the loss became {loss} at epoch {epoch + 1}, step {step + 1}; training stopped and the "
        f"last good checkpoint is kept ({kept}). Try a smaller --lr."
    )


@dataclass
class Position:
    """Where a run is: the next step to take is step ``step`` (0-based) of epoch ``epoch``."""

    epoch: int = 0
    step: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "step": self.step}


class Task(Protocol):
    """What ``fit`` trains: the classifier (``training.trainer``) and the captioner
    (``captioning.train``) each implement it."""

    checkpoint: str  # the training-state file that save() writes
    optimizer: Any
    scheduler: LRScheduler | None  # set by fit, saved by save()

    def resume(self, log: Callable[[str], None]) -> tuple[Position, list[dict], dict | None]:
        """Restores the model, optimiser, data order and random state from ``checkpoint``
        (refusing other settings); returns the position, the history and the schedule's saved
        ``state_dict()`` (None if the file has none)."""

    def write_outputs(self, position: Position, history: list[dict]) -> None:
        """Writes the outputs that follow the checkpoint at ``position`` (the weights, the
        metrics, the curves), each atomically; nothing on ranks that write nothing."""

    def steps_per_epoch(self) -> int:
        """The number of steps in a whole epoch."""

    def batches(self, epoch: int, start: int) -> Iterable[Any]:
        """The batches of 0-based ``epoch`` from step ``start`` on."""

    def step(self, batch: Any) -> tuple[float, dict[str, float]]:
        """One training step on ``batch``: the loss (checked for NaN/Inf by ``fit``) and the
        figures to sum over the epoch (``fit`` adds ``steps``)."""

    def postfix(self, sums: dict[str, float], seconds: float) -> dict[str, str]:
        """What the progress bar shows after the epoch's ``sums`` so far."""

    def row(self, epoch: int, sums: dict[str, float], seconds: float, partial: bool) -> dict:
        """The epoch's row of ``metrics.jsonl`` (validation included)."""

    def save(self, position: Position, history: list[dict]) -> bool:
        """Writes the checkpoint at ``position`` and the outputs that follow it; False on the
        ranks that write nothing (they also log nothing)."""

    def report(self, row: dict) -> list[str]:
        """The lines logged once an epoch is saved."""

    def warning(self, history: list[dict]) -> str | None:
        """A warning that the run is not learning (logged once), or None."""


def schedule(
    optimizer, kind: str | None, lr: float, total: int, done: int = 0, saved: dict | None = None
) -> LRScheduler | None:
    """The learning-rate schedule of a run of ``total`` scheduler steps at peak rate ``lr``, of
    which ``done`` are done: ``"cosine"`` (``CosineAnnealingLR`` from ``lr`` to 0 over
    ``total``) or a constant ``lr`` (None).

    ``saved`` is the ``state_dict()`` of a resumed run's schedule: it continues exactly (bit for
    bit as if the run had not stopped) when made for the same ``lr``, ``total`` and ``done``;
    otherwise (a resumed run may change ``--lr`` and ``--epochs``) the new cosine is taken up
    at step ``done`` by its closed form.
    """
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = lr
    if kind != "cosine":
        return None
    total = max(total, 1)
    same = {"T_max": total, "base_lrs": [lr] * len(optimizer.param_groups), "last_epoch": done}
    if saved and all(saved.get(k) == v for k, v in same.items()):
        scheduler = CosineAnnealingLR(optimizer, T_max=total)
        scheduler.load_state_dict(saved)
        for group, last in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
            group["lr"] = last
        return scheduler
    return CosineAnnealingLR(optimizer, T_max=total, last_epoch=done - 1)


def last_good(path: str, epoch: int) -> str:
    """How the NaN/Inf stop names the checkpoint kept, before 0-based epoch ``epoch``."""
    return f"{path}, after epoch {epoch}" if epoch > 0 and os.path.exists(path) else "none yet"


@dataclass
class Run:
    """What ``fit`` ends with: the position reached, every epoch's row, and whether the time
    budget stopped the run before its last epoch ended."""

    position: Position
    history: list[dict]
    stopped: bool


def fit(
    task: Task,
    epochs: int,
    lr: float,
    schedule_kind: str | None = None,
    per_step: bool = False,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
    minutes: float | None = None,
) -> Run:
    """Trains ``task`` to the end of 0-based epoch ``epochs - 1``, from the start or, with
    ``resume``, from its checkpoint.

    Args:
        task: what is trained.
        epochs: the run's length.
        lr, schedule_kind: the peak learning rate and its ``schedule`` ("cosine" or constant),
            stepped after every step (``per_step``) or after every whole epoch.
        resume: continue from ``task.checkpoint``.
        log: where the epochs' lines and the warnings go.
        progress: show a progress bar (None: when stderr is a terminal).
        minutes: stop after this many minutes, at a step boundary, with a checkpoint from which
            a resumed run continues mid-epoch.

    Raises:
        TrainingDiverged: the loss became NaN or Inf (nothing of that epoch is saved).
    """
    position, history, saved = Position(), [], None
    if resume:
        position, history, saved = task.resume(log)
        if history:
            # A kill between the checkpoint and the other outputs of its epoch left them a step
            # behind; the model restored from the checkpoint brings them up to it, so a resume
            # with nothing left to train still ends with every output matching the checkpoint.
            task.write_outputs(position, history)
    per = task.steps_per_epoch() if per_step else 1
    # Stepped per epoch, the schedule has not yet stepped for an epoch cut short by --minutes.
    done = position.epoch * per + (position.step if per_step else 0)
    task.scheduler = schedule(task.optimizer, schedule_kind, lr, epochs * per, done, saved)
    return _epochs(task, epochs, position, history, per_step, log, progress, minutes)


def _epochs(task: Task, epochs, position, history, per_step, log, progress, minutes) -> Run:
    """``fit``'s loop over the epochs left, from ``position``."""
    optimizer, scheduler = task.optimizer, task.scheduler
    per_epoch = task.steps_per_epoch()
    deadline = None if minutes is None else time.perf_counter() + minutes * 60.0
    stopped = warned = False
    for epoch in range(position.epoch, epochs):
        start = position.step if epoch == position.epoch else 0
        sums, lr, step, seconds, out_of_time = _epoch(
            task, epoch, epochs, start, optimizer, scheduler if per_step else None, progress,
            deadline,
        )  # fmt: skip
        stopped = out_of_time and (step + 1 < per_epoch or epoch + 1 < epochs)
        if stopped and step + 1 < per_epoch:
            position = Position(epoch, step + 1)
        else:
            position = Position(epoch + 1, 0)
            if scheduler is not None and not per_step:
                scheduler.step()
        row = task.row(epoch, sums, seconds, partial=position.epoch == epoch or start > 0)
        history.append({**row, "lr": lr})
        if task.save(position, history):
            for line in task.report(history[-1]):  # once saved: a kill never loses the epoch
                log(line)
            warning = None if warned else task.warning(history)
            if warning:
                warned = True
                log(warning)
        if stopped:
            log(f"stopped after {minutes:g} minutes; continue with --resume")
            break
    return Run(position, history, stopped)


def _epoch(task: Task, epoch, epochs, start, optimizer, scheduler, progress, deadline):
    """Steps through 0-based ``epoch`` from step ``start``, stepping ``scheduler`` (if any)
    after each step, until the batches end or the clock passes ``deadline``. Returns the
    figures summed, the lr of the last step, the last step's index, the seconds taken and
    whether the deadline stopped it."""
    tqdm = require_extra("cli", "tqdm").tqdm  # the CLI extra; `import chainrule` needs none
    t0 = time.perf_counter()
    sums: dict[str, float] = {"steps": 0}
    lr = optimizer.param_groups[0]["lr"]
    bar = tqdm(total=task.steps_per_epoch(), initial=start, desc=f"epoch {epoch + 1}/{epochs}",
               unit="batch", leave=False, file=sys.stderr, mininterval=0.5,
               disable=None if progress is None else not progress)  # fmt: skip
    step, out_of_time = start, False
    try:
        for step, batch in enumerate(task.batches(epoch, start), start=start):
            lr = optimizer.param_groups[0]["lr"]
            loss, figures = task.step(batch)
            if not math.isfinite(loss):
                raise diverged(loss, epoch, step, last_good(task.checkpoint, epoch))
            if scheduler is not None:
                scheduler.step()
            sums["steps"] += 1
            for k, v in figures.items():
                sums[k] = sums.get(k, 0) + v
            bar.update()
            if sums["steps"] % 20 == 1:
                bar.set_postfix(task.postfix(sums, time.perf_counter() - t0), refresh=False)
            if deadline is not None and time.perf_counter() >= deadline:
                out_of_time = True
                break
    finally:
        bar.close()
    return sums, lr, step, time.perf_counter() - t0, out_of_time
