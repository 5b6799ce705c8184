"""The training-state file that ``--resume`` continues from, one schema for the classifier
(``training.trainer``) and the captioner (``captioning.train``): one atomically written
safetensors file holding the weights (``model.*``), the optimiser's tensors (``optimizer.*``)
and, in the header, under distinct keys:

- ``kind``: which trainer wrote it (``chainrule-training-state``: the classifier;
  ``chainrule-captioner-training-state``: the captioner);
- ``position``: the loop's position, ``{"epoch": E, "step": S}``, the next step to take;
- ``loader``: the data order's position (``DataLoader.state_dict()``);
- ``model_config``: what rebuilds the model (the classifier's zoo name, data set, input shape,
  classes and flattening; the captioner's ``CaptionerConfig``);
- ``train_config``: the run's settings (``TrainConfig`` / ``CaptionTrainConfig``);
- ``history``: one row per epoch (or part of one) trained;
- ``optimizer``, ``rng``, ``scheduler``: the optimiser's other state, the random generator and
  the learning-rate schedule (None: a constant rate);

plus what a trainer adds of its own (the classifier's ``epoch``, epochs completed, and its
data-parallel ranks' random states; the captioner's ``vocab``).

Files written before this schema still load: ``upgrade`` reads their keys under the names
above (the classifier's ``config`` was its run settings and its model's keys were top-level;
the captioner's ``config`` was its model's config).
"""

from __future__ import annotations

import os

from chainrule import random as cr_random
from chainrule.serialization import (
    CheckpointError,
    join_optimizer_state,
    load,
    save,
    split_optimizer_state,
)
from chainrule.training import state_checks


def with_prefix(tensors: dict, prefix: str) -> dict:
    """The tensors whose names start with ``prefix``, under their names without it."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


# The model keys of a classifier's training state written before the schema (top-level then).
_CLASSIFIER_MODEL_KEYS = ("model", "data", "input_shape", "num_classes", "flatten")


def header(kind: str, position, loader, model_config: dict, train_config: dict,
           history: list[dict], **extra) -> dict:  # fmt: skip
    """The schema's keys (the module's docstring) of a training state, and the trainer's
    ``extra`` ones: ``position`` a ``Position`` (or its dict), ``loader`` a ``DataLoader``."""
    position = position.to_dict() if hasattr(position, "to_dict") else dict(position)
    return {"kind": kind, "position": position, "loader": loader.state_dict(),
            "model_config": model_config, "train_config": train_config, "history": history,
            **extra}  # fmt: skip


def upgrade(meta: dict) -> dict:
    """The header of a training state under the schema's names, whatever version wrote it: a
    classifier's ``config`` becomes ``train_config``, its model keys ``model_config`` and its
    ``epoch`` the position ``{"epoch": epoch, "step": 0}``; a captioner's ``config`` becomes
    ``model_config``. Keys already under the schema's names are kept as they are."""
    meta = dict(meta)
    if meta.get("kind") == "chainrule-training-state":
        if "train_config" not in meta and "config" in meta:
            meta["train_config"] = meta.pop("config")
        if "model_config" not in meta:
            meta["model_config"] = {k: meta[k] for k in _CLASSIFIER_MODEL_KEYS if k in meta}
        if "position" not in meta and "epoch" in meta:
            meta["position"] = {"epoch": meta["epoch"], "step": 0}
    elif "model_config" not in meta and "config" in meta:
        meta["model_config"] = meta.pop("config")
    return meta


def save_training_state(path: str, model, optimizer, scheduler, meta: dict) -> None:
    """Writes ``model``, ``optimizer``, ``scheduler`` (None: a constant learning rate), the
    random generator's state and ``meta`` (JSON-serialisable: ``header``'s) to ``path``."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = split_optimizer_state(optimizer.state_dict())
    tensors.update({f"optimizer.{k}": v for k, v in opt_tensors.items()})
    header = {**meta, "optimizer": opt_meta, "rng": cr_random.get_rng_state()}
    if scheduler is not None:
        header["scheduler"] = scheduler.state_dict()
    save(tensors, path, header)


def read_training_state(path: str, check) -> dict:
    """The header of the training state at ``path``, checked by ``check(path, header)`` before
    anything is built from it and read under the schema's names (``upgrade``), plus
    ``model_state`` and ``optimizer_state`` (state dicts).

    Raises:
        FileNotFoundError: no file at ``path`` (the message says how to make one).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"--resume: no checkpoint at {path}; train without --resume first (same --out)"
        )
    tensors, meta = load(path, with_metadata=True)
    check(path, meta)
    state_checks.check_rng(path, "rng", meta.get("rng"))
    state_checks.check_scheduler(path, meta.get("scheduler"))
    state_checks.check_optimizer(path, meta.get("optimizer"))
    meta["model_state"] = with_prefix(tensors, "model.")
    try:
        meta["optimizer_state"] = join_optimizer_state(
            with_prefix(tensors, "optimizer."), meta["optimizer"]
        )
    except ValueError as e:  # CheckpointError is one
        raise CheckpointError(
            f"{path}: malformed metadata: 'optimizer' does not match the optimiser's tensors "
            f"({e}); the file was altered or not written by chainrule"
        ) from None
    return upgrade(meta)


def check_same_settings(path: str, saved: dict, wanted: dict, keys: tuple[str, ...],
                        added: dict | None = None) -> None:  # fmt: skip
    """Raises ``ValueError`` naming the first of ``keys`` whose value in the checkpoint's
    settings ``saved`` differs from this run's ``wanted``: a resumed run must share them.
    ``added`` gives the value of settings that files written before them lack (what those
    runs used)."""
    saved = {**(added or {}), **saved}
    for key in keys:
        if saved.get(key) != wanted.get(key):
            raise ValueError(
                f"--resume: the checkpoint {path} was trained with {key}={saved.get(key)!r}, "
                f"but this run asks for {key}={wanted.get(key)!r}; use the same settings or "
                "another --out"
            )


def restore(state: dict, model, optimizer, path: str = "the checkpoint") -> None:
    """Puts a read training state back into ``model``, ``optimizer`` and the random generator
    (``training.loop.schedule`` rebuilds the learning-rate schedule from ``state``); an
    optimiser state that this optimiser refuses is refused naming ``path``."""
    model.load_state_dict(state["model_state"])
    state_checks.load_into(
        path, "optimizer", "optimiser", optimizer.load_state_dict, state["optimizer_state"]
    )
    cr_random.set_rng_state(state["rng"])
