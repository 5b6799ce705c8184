"""The training loop behind ``chainrule caption train``: teacher forcing on Fashion Scenes, with
validation every epoch, progress, metrics, curves, a time budget and resumable checkpoints.

It keeps the guarantees of ``chainrule train`` (``chainrule.training``): checkpoints are atomic
safetensors files holding weights, optimiser state, data position and random state, and a run
resumed from one continues exactly as if it had not stopped (same parameters, bit for bit).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np

import chainrule as cr
from chainrule import random as cr_random
from chainrule.captioning import captioner_state as ckpt
from chainrule.captioning.curves import plot_caption_curves
from chainrule.captioning.data import CaptionBatches, encode_references
from chainrule.captioning.decoding import greedy_decode
from chainrule.captioning.evaluate import exact_match, teacher_forced_loss
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.errors import require_extra
from chainrule.nn.utils import clip_grad_norm_
from chainrule.training.trainer import diverged, write_metrics


@dataclass
class CaptionTrainConfig:
    """Everything that defines a captioner's training run (stored in its checkpoint).

    Attributes:
        attention: the Show-Attend-Tell decoder (True) or the Show-and-Tell baseline (False).
        epochs: passes over the training scenes (one reference each, see ``all_references``).
        batch_size, lr: Adam's mini-batch size and (peak) learning rate.
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
    "attention", "batch_size", "schedule", "seed", "train_size", "val_size", "alpha_c",
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


def learning_rate(cfg: CaptionTrainConfig, step: int, total: int) -> float:
    """The learning rate at global step ``step`` of ``total``: constant, or cosine to 0."""
    if cfg.schedule == "constant":
        return cfg.lr
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


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
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _train_captioner(cfg, resume, log, progress)


def _train_captioner(cfg, resume, log, progress) -> dict:
    tqdm = require_extra("cli", "tqdm").tqdm  # the CLI extra; `import chainrule` needs none
    from chainrule.datasets import FashionScenes
    from chainrule.models.captioner import Captioner

    if cfg.schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {cfg.schedule!r}")
    train_ds = FashionScenes("train", size=cfg.train_size, root=cfg.root)
    val_ds = FashionScenes("val", size=cfg.val_size, root=cfg.root)
    vocab = train_ds.vocab
    batches = CaptionBatches(
        train_ds.images,
        encode_references(train_ds.captions, vocab),
        vocab,
        cfg.batch_size,
        cfg.seed,
        cfg.all_references,
    )
    val_refs = encode_references(val_ds.captions, vocab)

    cr.manual_seed(cfg.seed)
    model = Captioner(cfg.model_config(len(vocab)))
    optimizer = cr.optim.Adam(model.parameters(), lr=cfg.lr)
    os.makedirs(cfg.out, exist_ok=True)
    state_path = os.path.join(cfg.out, "checkpoint.safetensors")
    position = {"epoch": 0, "step": 0}
    history: list[dict] = []
    meta = {"train_config": cfg.to_dict()}
    if resume:
        position, history = _resume(state_path, cfg, model, optimizer, log)
        if history:
            # A kill between the checkpoint and the other outputs of its epoch left them a step
            # behind; the model restored from the checkpoint brings them up to it.
            _write_outputs(cfg, model, vocab, meta, position, history)

    per_epoch = len(batches)
    total = cfg.epochs * per_epoch
    budget = None if cfg.minutes is None else cfg.minutes * 60.0
    t_run = time.perf_counter()
    stopped = False
    warned = False
    for epoch in range(position["epoch"], cfg.epochs):
        start = position["step"] if epoch == position["epoch"] else 0
        model.train()
        t0 = time.perf_counter()
        ce_sum, reg_sum, tokens, pairs, steps = 0.0, 0.0, 0, 0, 0
        bar = tqdm(total=per_epoch, initial=start, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", leave=False, file=sys.stderr, mininterval=0.5,
                   disable=None if progress is None else not progress)  # fmt: skip
        step = start
        for step, batch in enumerate(batches.epoch(epoch, start), start=start):
            lr = learning_rate(cfg, epoch * per_epoch + step, total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            logits, alphas = model(cr.from_numpy(batch.images), cr.from_numpy(batch.inputs))
            ce = sequence_cross_entropy(logits, batch.targets, vocab.pad_index)
            loss = ce
            reg = 0.0
            if alphas is not None and cfg.alpha_c:
                r = attention_regularizer(alphas, batch.targets, vocab.pad_index)
                loss = ce + cfg.alpha_c * r
                reg = float(r._data)
            lv = float(loss._data)
            if not math.isfinite(lv):
                bar.close()
                raise diverged(lv, epoch, step, state_path)
            optimizer.zero_grad()
            loss.backward()
            if cfg.grad_clip:
                clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            n_tok = int((batch.targets != vocab.pad_index).sum())
            ce_sum += float(ce._data) * n_tok
            reg_sum += reg * len(batch.index)
            tokens += n_tok
            pairs += len(batch.index)
            steps += 1
            bar.update()
            if steps % 20 == 1:
                bar.set_postfix(loss=f"{ce_sum / tokens:.3f}", lr=f"{lr:.2e}", refresh=False)
            if budget is not None and time.perf_counter() - t_run >= budget:
                stopped = step + 1 < per_epoch or epoch + 1 < cfg.epochs
                break
        bar.close()
        seconds = time.perf_counter() - t0
        if stopped and step + 1 < per_epoch:
            position = {"epoch": epoch, "step": step + 1}
        else:
            position = {"epoch": epoch + 1, "step": 0}
        row = {
            "epoch": epoch + 1,
            "partial": position["epoch"] == epoch or start > 0,
            "steps": steps,
            "train_loss": ce_sum / max(tokens, 1),
            "train_attention_reg": reg_sum / max(pairs, 1) if model.attention else None,
            **_validate(model, val_ds, val_refs, vocab),
            "seconds": seconds,
            "pairs_per_second": pairs / max(seconds, 1e-9),
            "lr": lr if steps else learning_rate(cfg, epoch * per_epoch + start, total),
        }
        history.append(row)
        log(
            f"epoch {epoch + 1}/{cfg.epochs}{' (partial)' if row['partial'] else ''}: "
            f"train loss {row['train_loss']:.4f}"
            + (
                f" | val loss {row['val_loss']:.4f} greedy exact match {row['val_exact_match']:.4f}"
                if row["val_loss"] is not None
                else ""
            )
            + f" | {seconds:.0f} s, {row['pairs_per_second']:.0f} captions/s"
        )
        ckpt.save_training_state(
            state_path, model, optimizer, vocab, position, cfg.to_dict(), history, {}
        )
        _write_outputs(cfg, model, vocab, meta, position, history)
        if not warned and not_improving([r["train_loss"] for r in history]):
            warned = True
            best = min(range(len(history)), key=lambda i: history[i]["train_loss"])
            log(
                f"warning: the training loss has not improved for {NOT_IMPROVING_EPOCHS} "
                f"epochs (best {history[best]['train_loss']:.4f}, epoch {history[best]['epoch']}):"
                " the model is not learning. Try a smaller --lr; training goes on."
            )
        if stopped:
            log(f"stopped after {cfg.minutes:g} minutes; continue with --resume")
            break

    last = history[-1] if history else {}
    return {
        "attention": cfg.attention,
        "epochs": len({r["epoch"] for r in history}),
        "position": position,
        "val_loss": last.get("val_loss"),
        "val_exact_match": last.get("val_exact_match"),
        "seconds": round(time.perf_counter() - t_run, 1),
        "stopped_early": stopped,
        "out": cfg.out,
    }


def _write_outputs(cfg: CaptionTrainConfig, model, vocab, meta: dict, position: dict,
                   history: list[dict]) -> None:  # fmt: skip
    """Writes the outputs that follow the checkpoint at ``position``: the weights
    (``model.safetensors``, tagged with the epoch of the last row of ``history``),
    ``metrics.jsonl`` and ``curves.png``, each atomically."""
    ckpt.save_captioner(
        os.path.join(cfg.out, "model.safetensors"),
        model,
        vocab,
        {**meta, "epoch": history[-1]["epoch"], "position": position},
    )
    write_metrics(os.path.join(cfg.out, "metrics.jsonl"), history)
    plot_caption_curves(
        history,
        os.path.join(cfg.out, "curves.png"),
        title=f"captioner ({'attention' if cfg.attention else 'no attention'})",
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


def _resume(path, cfg, model, optimizer, log):
    state = ckpt.load_training_state(path)
    saved = state["train_config"]
    mine = cfg.to_dict()
    for key in _MUST_MATCH:
        if saved.get(key) != mine[key]:
            raise ValueError(
                f"--resume: the checkpoint {path} was trained with {key}={saved.get(key)!r}, "
                f"but this run asks for {key}={mine[key]!r}; use the same settings or another --out"
            )
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    cr_random.set_rng_state(state["rng"])
    position = state["position"]
    log(f"resuming from {path} at epoch {position['epoch'] + 1}, step {position['step']}")
    return position, list(state["history"])


def config_from_dict(d: dict) -> CaptionTrainConfig:
    """A ``CaptionTrainConfig`` from ``to_dict``'s output (unknown keys are ignored)."""
    names = {f.name for f in fields(CaptionTrainConfig)}
    d = {k: v for k, v in d.items() if k in names}
    if "channels" in d:
        d["channels"] = tuple(d["channels"])
    return CaptionTrainConfig(**d)
