"""The training loop behind ``chainrule train``: mini-batches, validation every epoch, progress,
metrics, curves and resumable checkpoints."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from chainrule import distributed as dist
from chainrule import random as cr_random
from chainrule.autograd.creation import from_numpy
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import xp
from chainrule.datasets import load_splits
from chainrule.jit import compile as compile_step
from chainrule.models import get_recipe
from chainrule.random import manual_seed
from chainrule.serialization import write_atomically
from chainrule.training import classifier_state, run_folder
from chainrule.training.curves import plot_curves
from chainrule.training.loop import Position, fit
from chainrule.training.loop import TrainingDiverged as TrainingDiverged  # raised by train()
from chainrule.training.optimizers import default_lr, make_optimizer
from chainrule.training.state import check_same_settings
from chainrule.utils.data import DataLoader, TensorDataset


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint for ``--resume``)."""

    model: str
    data: str = "fashion-mnist"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    seed: int = 0
    out: str = "runs/default"
    root: str | None = None
    val_size: int | None = None
    limit: int | None = None  # train on the first LIMIT examples only (quick runs, tests)
    compile: bool = False  # replay the training step with cr.compile (bit-identical results)
    schedule: str | None = None  # "cosine" or "constant" (None: the recipe's)
    minutes: float | None = None  # stop after this many minutes, checkpointed mid-epoch

    def resolved(self) -> TrainConfig:
        """The config with the model recipe's defaults filled in."""
        r = get_recipe(self.model)
        c = TrainConfig(**asdict(self))
        c.epochs = r.epochs if c.epochs is None else c.epochs
        c.batch_size = r.batch_size if c.batch_size is None else c.batch_size
        c.optimizer = r.optimizer if c.optimizer is None else c.optimizer
        c.schedule = (r.schedule or "constant") if c.schedule is None else c.schedule
        if c.lr is None:
            # The recipe's lr belongs to the recipe's optimiser (nielsen's 3.0 to plain SGD):
            # another optimiser without --lr starts from its own documented default instead.
            c.lr = r.lr if c.optimizer == r.optimizer else default_lr(c.optimizer)[0]
        return c

    def recipe_lines(self) -> list[str]:
        """What a run will do, said before it starts: the model, the optimiser and its learning
        rate, the batch size and the epochs, and where the lr came from when it was not given.
        Called on the config as given (before ``resolved``)."""
        r, c = get_recipe(self.model), self.resolved()
        schedule = f", {c.schedule} decay" if c.schedule != "constant" else ""
        lines = [
            f"recipe: {c.model} on {c.data}: optimizer {c.optimizer}, lr {c.lr:g}{schedule}, "
            f"batch size {c.batch_size}, epochs {c.epochs}"
        ]
        if self.lr is None and c.optimizer != r.optimizer:
            _, cls = default_lr(c.optimizer)
            lines.append(
                f"  --optimizer {c.optimizer} without --lr: lr {c.lr:g}, the default of "
                f"chainrule.optim.{cls} (the recipe's lr {r.lr:g} is for {r.optimizer}); "
                "give --lr to choose another"
            )
        return lines


# Settings that must match for a run to be resumed (the rest, e.g. epochs, may change).
_MUST_MATCH = ("model", "data", "batch_size", "optimizer", "seed", "val_size", "limit", "schedule")


def evaluate(model, loss_fn, x: xp.ndarray, y: xp.ndarray, batch_size: int = 1000) -> dict:
    """Mean loss and accuracy of ``model`` on arrays x (N, ...) and labels y (N,), in eval mode."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(y), batch_size):
            xb, yb = from_numpy(x[i : i + batch_size]), from_numpy(y[i : i + batch_size])
            out = model(xb)
            total_loss += float(loss_fn(out, yb).item()) * len(yb)
            correct += int((out._data.argmax(axis=1) == yb._data).sum())
    model.train(was_training)
    n = max(len(y), 1)
    return {"loss": total_loss / n, "accuracy": correct / n, "correct": correct, "total": len(y)}


# A run "is not learning" when, for this many epochs in a row, its training accuracy closes less
# than a tenth of the gap between chance (always guessing the most common training label) and 1.
# Adam's steps are at most about lr long, so at --lr 1e6 the loss stays finite (no NaN stop)
# while the accuracy stays at chance: this check is what says so.
NOT_LEARNING_EPOCHS = 3


def not_learning(rows: list[dict], chance: float, epochs: int = NOT_LEARNING_EPOCHS) -> bool:
    """Whether the last ``epochs`` rows of a run's history all have a ``train_accuracy`` within a
    tenth of ``(1 - chance)`` of ``chance``."""
    last = rows[-epochs:]
    return len(last) == epochs and all(
        r["train_accuracy"] - chance <= 0.1 * (1.0 - chance) for r in last
    )


def train(cfg: TrainConfig, resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Trains zoo model ``cfg.model`` on data set ``cfg.data`` and returns the final figures.

    Writes, in ``cfg.out``: ``checkpoint.safetensors`` (model, optimiser, data order and random
    state after the last completed epoch: what ``resume=True`` continues from),
    ``model.safetensors`` (the weights alone, for ``chainrule eval``), ``metrics.jsonl`` (one line
    per epoch) and ``curves.png``.

    Under ``mpirun -n R`` it trains data-parallel (docs/distributed.md): each rank takes a shard
    of every epoch and ``cfg.batch_size`` examples per step (R·batch_size in all), gradients
    are averaged across ranks; rank 0 alone logs and writes files; figures cover all ranks.

    Numerics are quiet: NumPy's floating-point warnings (overflow, invalid value, divide by zero)
    are off for the run, because a loss that becomes NaN or Inf stops it with one
    ``TrainingDiverged`` naming the epoch, the step and the checkpoint kept. A loss that stays
    finite while the model learns nothing (Adam at a huge learning rate) is logged once as a
    warning when ``not_learning`` first holds (``result["not_learning"]``); the run goes on.
    """
    with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _train(cfg, resume, log)


def _train(cfg: TrainConfig, resume: bool, log: Callable[[str], None]) -> dict:
    if not dist.is_main():
        log = _quiet
    for line in cfg.recipe_lines():
        log(line)
    # One writer per --out, checked and locked before the data is read (rank 0 writes alone).
    with run_folder.hold(cfg.out if dist.is_main() else None):
        task = _Classifier(cfg.resolved(), log)
        cfg = task.cfg
        t_run = time.perf_counter()
        run = fit(task, cfg.epochs, cfg.lr, cfg.schedule, resume=resume, log=log,
                  progress=None if dist.is_main() else False, minutes=cfg.minutes)  # fmt: skip
        return task.result(run.history, time.perf_counter() - t_run)


class _Classifier:
    """A zoo model on a data set's splits: the ``Task`` that ``fit`` trains for ``train``."""

    def __init__(self, cfg: TrainConfig, log: Callable[[str], None]):
        self.cfg, self.recipe = cfg, get_recipe(cfg.model)
        (x, y), (xv, yv), (xt, yt) = load_splits(cfg.data, cfg.root, cfg.val_size)
        if cfg.limit:
            x, y = x[: cfg.limit], y[: cfg.limit]
        input_shape = tuple(x.shape[1:])
        num_classes = int(max(y.max(), yt.max())) + 1
        self.chance = float(xp.bincount(y).max()) / len(y)  # the accuracy of the commonest label
        if self.recipe.flatten:
            x, xv, xt = (a.reshape(len(a), int(xp.prod(a.shape[1:]))) for a in (x, xv, xt))
        self.val, self.test = (xv, yv), (xt, yt)

        manual_seed(cfg.seed)
        self.model = self.recipe.build(input_shape, num_classes)
        optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr)
        if dist.world_size() == 1:
            self.loader = DataLoader(
                TensorDataset(x, y), batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed
            )
        else:
            self.loader, optimizer = _data_parallel(cfg, self.model, optimizer,
                                                    TensorDataset(x, y), log)  # fmt: skip
        self.optimizer, self.scheduler = optimizer, None
        if dist.is_main():
            os.makedirs(cfg.out, exist_ok=True)
        self.checkpoint = os.path.join(cfg.out, "checkpoint.safetensors")
        self.meta = {"model": cfg.model, "data": cfg.data, "input_shape": list(input_shape),
                     "num_classes": num_classes, "flatten": self.recipe.flatten}  # fmt: skip
        # Replayed steps give the same parameters as eager ones to the last bit (test_compile).
        self.train_step = compile_step(self._step) if cfg.compile else self._step
        self.last_val: dict | None = None

    def _step(self, xb, yb):
        out = self.model(xb)
        loss = self.recipe.loss(out, yb)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss, out

    def resume(self, log: Callable[[str], None]) -> tuple[Position, list[dict], dict | None]:
        """Restores the model, optimiser, data order and random state from the checkpoint."""
        path = self.checkpoint
        state = dist.on_main(lambda: classifier_state.load_training_state(path))  # to every rank
        # A file written before --schedule ran the recipe's schedule.
        added = {"schedule": self.recipe.schedule or "constant"}
        check_same_settings(path, state["train_config"], asdict(self.cfg), _MUST_MATCH, added)
        classifier_state.restore(state, self.model, self.optimizer, self.loader, path)
        if dist.world_size() > 1:
            _restore_rank_rng(state, self.cfg, log)
        position = Position(**state["position"])
        where = f" (step {position.step} of epoch {position.epoch + 1})" if position.step else ""
        log(f"resuming from {path} after epoch {state['epoch']}{where}")
        return position, list(state["history"]), state.get("scheduler")

    def steps_per_epoch(self) -> int:
        return len(self.loader)

    def batches(self, epoch: int, start: int):
        self.model.train()
        return self.loader.batches(epoch, start)

    def step(self, batch) -> tuple[float, dict[str, float]]:
        xb, yb = batch
        loss, out = self.train_step(xb, yb)
        lv = float(loss._data)
        n = len(yb._data)
        correct = int((out._data.argmax(axis=1) == yb._data).sum())
        return lv, {"loss": lv * n, "correct": correct, "seen": n}

    def postfix(self, sums: dict, seconds: float) -> dict[str, str]:
        seen = sums["seen"]
        return {"loss": f"{sums['loss'] / seen:.4f}", "acc": f"{sums['correct'] / seen:.4f}",
                "ex_s": f"{seen / max(seconds, 1e-9):,.0f}"}  # fmt: skip

    def row(self, epoch: int, sums: dict, seconds: float, partial: bool) -> dict:
        loss_sum, correct, seen = (sums.get(k, 0) for k in ("loss", "correct", "seen"))
        if dist.world_size() > 1:  # the epoch's figures over every rank's shard
            loss_sum, correct, seen = dist.all_reduce_sum([loss_sum, correct, seen]).tolist()
        xv, yv = self.val
        val = self.last_val = _evaluate(self.model, self.recipe.loss, xv, yv) if len(yv) else None
        return {
            "epoch": epoch + 1,
            **({"partial": True} if partial else {}),  # a part of an epoch (a --minutes stop)
            "train_loss": loss_sum / max(seen, 1),
            "train_accuracy": correct / max(seen, 1),
            "val_loss": val["loss"] if val else None,
            "val_accuracy": val["accuracy"] if val else None,
            "seconds": seconds,
            "examples_per_second": seen / max(seconds, 1e-9),
        }

    def save(self, position: Position, history: list[dict]) -> bool:
        ranks = _rank_rng_states() if dist.world_size() > 1 else {}  # collective: every rank
        if not dist.is_main():
            return False
        classifier_state.save_training_state(
            self.checkpoint, self.model, self.optimizer, self.scheduler, self.loader, self.cfg,
            position, history, self.meta, ranks,
        )  # fmt: skip
        self.write_outputs(position, history)
        return True

    def write_outputs(self, position: Position, rows: list[dict]) -> None:
        """Writes the outputs that follow the checkpoint of ``position``: the weights
        (``model.safetensors``), ``metrics.jsonl`` and ``curves.png``, each atomically, on
        rank 0."""
        if not dist.is_main():
            return
        # The epoch of the last row: the one under way when a --minutes stop split it.
        out, epoch = self.cfg.out, rows[-1]["epoch"] if rows else position.epoch
        classifier_state.save_model(os.path.join(out, "model.safetensors"), self.model,
                                    self.meta, epoch)  # fmt: skip
        write_metrics(os.path.join(out, "metrics.jsonl"), rows)
        plot_curves(rows, os.path.join(out, "curves.png"),
                    title=f"{self.cfg.model} on {self.cfg.data}")  # fmt: skip

    def report(self, row: dict) -> list[str]:
        lines, val = [], self.last_val
        if val:
            # Nielsen's seed code prints this line after each epoch; it counts from 0, but here
            # epochs count from 1 everywhere (the bar, metrics.jsonl, the curves, --resume).
            lines.append(f"Epoch {row['epoch']}: {val['correct']} / {val['total']}")
        lines.append(
            f"  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}"
            + (f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f}" if val else "")
            + f" | {row['seconds']:.1f}s, {row['examples_per_second']:,.0f} examples/s"
        )
        return lines

    def warning(self, history: list[dict]) -> str | None:
        if not not_learning(history, self.chance):
            return None
        return (
            f"warning: for {NOT_LEARNING_EPOCHS} epochs the training accuracy has stayed "
            f"at {history[-1]['train_accuracy']:.4f}, no better than always guessing the most "
            f"common label ({self.chance:.4f}): the model is not learning. Try a smaller --lr "
            "(or another --optimizer); training goes on."
        )

    def result(self, history: list[dict], seconds: float) -> dict:
        """The final figures: the test set's, the last validation accuracy, and the run's."""
        cfg = self.cfg
        test = _evaluate(self.model, self.recipe.loss, *self.test)
        last_val = history[-1]["val_accuracy"] if history else None
        result = {
            "model": cfg.model,
            "data": cfg.data,
            "test_accuracy": round(test["accuracy"], 4),
            "test_loss": round(test["loss"], 6),
            "val_accuracy": round(last_val, 4) if last_val is not None else None,
            "epochs": len(history),
            "not_learning": not_learning(history, self.chance),
            "seconds": round(seconds, 1),
            "out": cfg.out,
        }
        if cfg.compile:
            st = self.train_step.stats()
            result["compiled_steps"] = {k: st[k] for k in ("replays", "recordings", "eager_calls")}
        return result


def _quiet(_: str) -> None:
    """The log of ranks other than 0: one copy of every line is enough."""


def _data_parallel(cfg, model, optimizer, dataset, log):
    """A world of R > 1 ranks: rank 0's weights everywhere (after checking that every rank
    built the same model), this rank's shard of each epoch, gradients averaged in step()."""
    dist.broadcast_parameters(model)
    manual_seed(dist.rank_seed(cfg.seed))  # dropout etc.: an independent stream per rank
    sampler = dist.DistributedSampler(dataset, seed=cfg.seed)  # pads, as PyTorch's does
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, seed=cfg.seed)
    r = dist.world_size()
    log(f"data-parallel on {r} processes: {cfg.batch_size} examples per process per step, "
        f"{r * cfg.batch_size} in all")  # fmt: skip
    return loader, dist.DistributedOptimizer(optimizer)


def _evaluate(model, loss_fn, x: xp.ndarray, y: xp.ndarray) -> dict:
    """``evaluate``; on R > 1 ranks each takes every R-th example and the sums are combined."""
    r = dist.world_size()
    if r == 1:
        return evaluate(model, loss_fn, x, y)
    dist.broadcast_buffers(model)  # rank 0's running statistics, the ones its checkpoint holds
    part = evaluate(model, loss_fn, x[dist.rank() :: r], y[dist.rank() :: r])
    loss_sum, correct, total = dist.all_reduce_sum(
        [part["loss"] * part["total"], part["correct"], part["total"]]
    )
    n = max(total, 1)
    return {"loss": loss_sum / n, "accuracy": correct / n, "correct": int(correct),
            "total": int(total)}  # fmt: skip


def _rank_rng_states() -> dict:
    """Every rank's random state (rank 0 stores them for --resume) and the world size."""
    states = dist.gather_object(cr_random.get_rng_state())
    return {"rng_ranks": states, "world_size": dist.world_size()}


def _restore_rank_rng(state: dict, cfg, log) -> None:
    """Puts back this rank's random state; from a run of another size, reseeds per rank."""
    ranks = state.get("rng_ranks") or []
    if len(ranks) == dist.world_size():
        cr_random.set_rng_state(ranks[dist.rank()])
        return
    manual_seed(dist.rank_seed(cfg.seed, int(state["epoch"])))
    log(f"note: the checkpoint was written by {state.get('world_size', 1)} process(es) and this "
        f"run has {dist.world_size()}: each takes {cfg.batch_size} examples per step, "
        f"{dist.world_size() * cfg.batch_size} in all; random streams are reseeded")  # fmt: skip


def write_metrics(path: str, rows: list[dict]) -> None:
    """Writes ``rows`` (one dict per epoch) to ``path`` as JSON lines, through a temporary file
    and a rename, so that an interrupted run never leaves a half-written file. Also used by
    captioner training."""

    def fill(tmp: str) -> None:
        with open(tmp, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")

    write_atomically(path, fill, "metrics")
