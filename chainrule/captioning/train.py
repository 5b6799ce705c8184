"""The training loop behind ``chainrule caption train``: teacher forcing on Fashion Scenes, with
validation every epoch, progress, metrics, curves, a time budget and resumable checkpoints.

It keeps the guarantees of ``chainrule train`` (``chainrule.training``): checkpoints are atomic
safetensors files holding weights, optimiser state, data position and random state, and a run
resumed from one continues exactly as if it had not stopped (same parameters, bit for bit).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

from chainrule.autograd.creation import from_numpy
from chainrule.backend import xp
from chainrule.captioning import captioner_state as ckpt
from chainrule.captioning.curves import plot_caption_curves
from chainrule.captioning.data import CaptionBatches, encode_references
from chainrule.captioning.decoding import greedy_decode
from chainrule.captioning.evaluate import exact_match, teacher_forced_loss
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.nn.utils import clip_grad_norm_
from chainrule.random import manual_seed
from chainrule.training import run_folder
from chainrule.training.loop import Position, fit
from chainrule.training.optimizers import make_optimizer
from chainrule.training.state import check_same_settings, restore
from chainrule.training.state_checks import load_into
from chainrule.training.trainer import write_metrics


@dataclass
class CaptionTrainConfig:
    """Everything that defines a captioner's training run (stored in its checkpoint).

    Attributes:
        attention: the Show-Attend-Tell decoder (True) or the Show-and-Tell baseline (False).
        epochs: passes over the training scenes (one reference each, see ``all_references``).
        batch_size, lr: the mini-batch size and the (peak) learning rate.
        optimizer: the optimiser, by the names ``chainrule train --optimizer`` takes (adam).
        schedule: ``"cosine"`` anneals the learning rate to 0 over ``epochs`` (resuming with
            another ``epochs`` bends the curve from there on); ``"constant"`` keeps it.
        seed: initialisation, dropout and data order.
        out: output folder.
        train_size, val_size: scenes of the train / val splits (None: 30,000 / 1,000).
        minutes: stop after this many minutes of training, at a step boundary, with a
            checkpoint from which ``--resume`` continues mid-epoch.
        alpha_c: λ of the doubly stochastic attention term (attention models only).
        grad_clip: the gradients' global norm is clipped to this (0: no clipping).
        all_references: every epoch uses all five references of each scene, not one at random.
        embed_dim, hidden_dim, attention_dim, channels, dropout: the model's sizes
            (``CaptionerConfig``).
        root: folder with the Fashion-MNIST files.
    """

    attention: bool = True
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "adam"
    schedule: str = "cosine"
    seed: int = 0
    out: str = "runs/captioner"
    train_size: int | None = None
    val_size: int | None = None
    minutes: float | None = None
    alpha_c: float = 1.0
    grad_clip: float = 5.0
    all_references: bool = False
    embed_dim: int = 64
    hidden_dim: int = 256
    attention_dim: int = 128
    channels: tuple[int, ...] = (16, 32, 64)
    dropout: float = 0.3
    root: str | None = None

    def model_config(self, vocab_size: int):
        from chainrule.models.captioner import CaptionerConfig

        return CaptionerConfig(
            vocab_size=vocab_size,
            attention=self.attention,
            channels=tuple(self.channels),
            embed_dim=self.embed_dim,
            hidden_dim=self.hidden_dim,
            attention_dim=self.attention_dim,
            dropout=self.dropout,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


# Settings a resumed run must share with the checkpoint (epochs, lr, minutes and out may change).
_MUST_MATCH = (
    "attention", "batch_size", "optimizer", "schedule", "seed", "train_size", "val_size", "alpha_c",
    "grad_clip", "all_references", "embed_dim", "hidden_dim", "attention_dim", "channels",
    "dropout",
)  # fmt: skip


# Epochs without a new lowest training loss after which a run is said not to be learning (the
# captioner has no chance level to compare with, unlike a classifier: see training.trainer).
NOT_IMPROVING_EPOCHS = 3


def not_improving(losses: list[float], epochs: int = NOT_IMPROVING_EPOCHS) -> bool:
    """Whether none of the last ``epochs`` losses is below the lowest one before them."""
    if len(losses) <= epochs:
        return False
    return min(losses[-epochs:]) >= min(losses[:-epochs])


def train_captioner(
    cfg: CaptionTrainConfig,
    resume: bool = False,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
) -> dict:
    """Trains a captioner on Fashion Scenes and returns the final figures.

    Writes, in ``cfg.out``: ``checkpoint.safetensors`` (what ``resume=True`` continues from),
    ``model.safetensors`` (weights, config and vocabulary, for ``chainrule caption eval`` and
    ``describe``), ``metrics.jsonl`` (one line per epoch) and ``curves.png``.

    Args:
        cfg: the run's settings.
        resume: continue from ``cfg.out/checkpoint.safetensors``.
        log: where the per-epoch lines go.
        progress: show a progress bar (None: when stderr is a terminal).

    Returns:
        ``{"epochs", "steps", "val_loss", "val_exact_match", "seconds", "stopped_early", "out"}``.

    As in ``chainrule train``, NumPy's floating-point warnings are off for the run: a loss that
    becomes NaN or Inf stops it with one ``TrainingDiverged`` instead. A loss that stays finite
    but has not improved for ``NOT_IMPROVING_EPOCHS`` epochs is logged once as a warning.
    """
    with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _train_captioner(cfg, resume, log, progress)


def _train_captioner(cfg, resume, log, progress) -> dict:
    if cfg.schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")
    with run_folder.hold(cfg.out):  # one writer per --out
        task = _Captioning(cfg)
        t_run = time.perf_counter()
        run = fit(task, cfg.epochs, cfg.lr, cfg.schedule, per_step=True, resume=resume, log=log,
                  progress=progress, minutes=cfg.minutes)  # fmt: skip
    last = run.history[-1] if run.history else {}
    return {
        "attention": cfg.attention,
        "epochs": len({r["epoch"] for r in run.history}),
        "position": run.position.to_dict(),
        "val_loss": last.get("val_loss"),
        "val_exact_match": last.get("val_exact_match"),
        "seconds": round(time.perf_counter() - t_run, 1),
        "stopped_early": run.stopped,
        "out": cfg.out,
    }


class _Captioning:
    """A captioner on Fashion Scenes, taught by teacher forcing: the ``Task`` that ``fit``
    trains for ``train_captioner``."""

    def __init__(self, cfg: CaptionTrainConfig):
        from chainrule.datasets import FashionScenes
        from chainrule.models.captioner import Captioner

        self.cfg = cfg
        train_ds = FashionScenes("train", size=cfg.train_size, root=cfg.root)
        self.val_ds = FashionScenes("val", size=cfg.val_size, root=cfg.root)
        self.vocab = vocab = train_ds.vocab
        data = CaptionBatches(
            train_ds.images,
            encode_references(train_ds.captions, vocab),
            vocab,
            cfg.batch_size,
            cfg.seed,
            cfg.all_references,
        )
        self.loader = data.loader
        self.val_refs = encode_references(self.val_ds.captions, vocab)
        manual_seed(cfg.seed)
        self.model = Captioner(cfg.model_config(len(vocab)))
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr)
        self.scheduler = None
        os.makedirs(cfg.out, exist_ok=True)
        self.checkpoint = os.path.join(cfg.out, "checkpoint.safetensors")
        self.meta = {"train_config": cfg.to_dict()}

    def resume(self, log: Callable[[str], None]) -> tuple[Position, list[dict], dict | None]:
        """Restores the model, optimiser, data order and random state from the checkpoint."""
        path = self.checkpoint
        state = ckpt.load_training_state(path)
        # Files written before --optimizer trained with Adam.
        check_same_settings(path, state["train_config"], self.cfg.to_dict(), _MUST_MATCH,
                            {"optimizer": "adam"})  # fmt: skip
        restore(state, self.model, self.optimizer, path)
        p = state["position"]
        # Before the schema the position alone placed the data: the order is (seed, epoch)'s.
        loader = state.get("loader") or {"seed": self.cfg.seed, "epoch": p["epoch"],
                                         "batches_done": p["step"]}  # fmt: skip
        load_into(path, "loader", "data", self.loader.load_state_dict, loader)
        log(f"resuming from {path} at epoch {p['epoch'] + 1}, step {p['step']}")
        return Position(**p), list(state["history"]), state.get("scheduler")

    def steps_per_epoch(self) -> int:
        return len(self.loader)

    def batches(self, epoch: int, start: int):
        self.model.train()
        return self.loader.batches(epoch, start)

    def step(self, batch) -> tuple[float, dict[str, float]]:
        model, vocab, cfg = self.model, self.vocab, self.cfg
        logits, alphas = model(from_numpy(batch.images), from_numpy(batch.inputs))
        ce = sequence_cross_entropy(logits, batch.targets, vocab.pad_index)
        loss, reg = ce, 0.0
        if alphas is not None and cfg.alpha_c:
            r = attention_regularizer(alphas, batch.targets, vocab.pad_index)
            loss = ce + cfg.alpha_c * r
            reg = float(r._data)
        lv = float(loss._data)
        if not math.isfinite(lv):
            return lv, {}  # fit stops the run; the weights are not touched
        self.optimizer.zero_grad()
        loss.backward()
        if cfg.grad_clip:
            clip_grad_norm_(model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        n_tok = int((batch.targets != vocab.pad_index).sum())
        pairs = len(batch.index)
        return lv, {"ce": float(ce._data) * n_tok, "reg": reg * pairs, "tokens": n_tok,
                    "pairs": pairs}  # fmt: skip

    def postfix(self, sums: dict, seconds: float) -> dict[str, str]:
        lr = self.optimizer.param_groups[0]["lr"]
        return {"loss": f"{sums['ce'] / sums['tokens']:.3f}", "lr": f"{lr:.2e}"}

    def row(self, epoch: int, sums: dict, seconds: float, partial: bool) -> dict:
        pairs = sums.get("pairs", 0)
        return {
            "epoch": epoch + 1,
            "partial": partial,
            "steps": sums["steps"],
            "train_loss": sums.get("ce", 0.0) / max(sums.get("tokens", 0), 1),
            "train_attention_reg": sums.get("reg", 0.0) / max(pairs, 1)
            if self.model.attention
            else None,
            **_validate(self.model, self.val_ds, self.val_refs, self.vocab),
            "seconds": seconds,
            "pairs_per_second": pairs / max(seconds, 1e-9),
        }

    def save(self, position: Position, history: list[dict]) -> bool:
        ckpt.save_training_state(
            self.checkpoint, self.model, self.optimizer, self.scheduler, self.loader, self.vocab,
            position, self.cfg.to_dict(), history,
        )  # fmt: skip
        self.write_outputs(position, history)
        return True

    def write_outputs(self, position: Position, history: list[dict]) -> None:
        """Writes the outputs that follow the checkpoint at ``position``: the weights
        (``model.safetensors``, tagged with the epoch of the last row of ``history``),
        ``metrics.jsonl`` and ``curves.png``, each atomically."""
        cfg = self.cfg
        ckpt.save_captioner(
            os.path.join(cfg.out, "model.safetensors"),
            self.model,
            self.vocab,
            {**self.meta, "epoch": history[-1]["epoch"], "position": position.to_dict()},
        )
        write_metrics(os.path.join(cfg.out, "metrics.jsonl"), history)
        plot_caption_curves(
            history,
            os.path.join(cfg.out, "curves.png"),
            title=f"captioner ({'attention' if cfg.attention else 'no attention'})",
        )

    def report(self, row: dict) -> list[str]:
        return [
            f"epoch {row['epoch']}/{self.cfg.epochs}{' (partial)' if row['partial'] else ''}: "
            f"train loss {row['train_loss']:.4f}"
            + (
                f" | val loss {row['val_loss']:.4f} greedy exact match {row['val_exact_match']:.4f}"
                if row["val_loss"] is not None
                else ""
            )
            + f" | {row['seconds']:.0f} s, {row['pairs_per_second']:.0f} captions/s"
        ]

    def warning(self, history: list[dict]) -> str | None:
        if not not_improving([r["train_loss"] for r in history]):
            return None
        best = min(range(len(history)), key=lambda i: history[i]["train_loss"])
        return (
            f"warning: the training loss has not improved for {NOT_IMPROVING_EPOCHS} "
            f"epochs (best {history[best]['train_loss']:.4f}, epoch {history[best]['epoch']}):"
            " the model is not learning. Try a smaller --lr; training goes on."
        )


def _validate(model, val_ds, val_refs, vocab) -> dict:
    if len(val_ds) == 0:
        return {"val_loss": None, "val_exact_match": None}
    loss = teacher_forced_loss(model, val_ds.images, val_refs, vocab)
    tokens = []
    for i in range(0, len(val_ds), 500):
        tokens += greedy_decode(model, val_ds.images[i : i + 500], vocab).tokens
    em = exact_match([vocab.decode(t) for t in tokens], val_ds.captions)
    return {"val_loss": loss, "val_exact_match": em}


def config_from_dict(d: dict) -> CaptionTrainConfig:
    """A ``CaptionTrainConfig`` from ``to_dict``'s output (unknown keys are ignored)."""
    names = {f.name for f in fields(CaptionTrainConfig)}
    d = {k: v for k, v in d.items() if k in names}
    if "channels" in d:
        d["channels"] = tuple(d["channels"])
    return CaptionTrainConfig(**d)
