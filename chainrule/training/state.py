"""The training-state file that ``--resume`` continues from, shared by the classifier
(``training.trainer``) and the captioner (``captioning.train``): one atomically written
safetensors file holding the weights (``model.*``), the optimiser's tensors (``optimizer.*``)
and, in the header, the optimiser's other state, the random generator, the learning-rate
schedule and whatever the caller adds (its kind, position, history and settings)."""

from __future__ import annotations

import os

import chainrule as cr
from chainrule import random as cr_random
from chainrule.serialization import (
    CheckpointError,
    join_optimizer_state,
    split_optimizer_state,
)
from chainrule.training import state_checks


def with_prefix(tensors: dict, prefix: str) -> dict:
    """The tensors whose names start with ``prefix``, under their names without it."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def save_training_state(path: str, model, optimizer, scheduler, meta: dict) -> None:
    """Writes ``model``, ``optimizer``, ``scheduler`` (None: a constant learning rate), the
    random generator's state and ``meta`` (JSON-serialisable) to ``path``."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = split_optimizer_state(optimizer.state_dict())
    tensors.update({f"optimizer.{k}": v for k, v in opt_tensors.items()})
    header = {**meta, "optimizer": opt_meta, "rng": cr_random.get_rng_state()}
    if scheduler is not None:
        header["scheduler"] = scheduler.state_dict()
    cr.save(tensors, path, header)


def read_training_state(path: str, check) -> dict:
    """The header of the training state at ``path``, checked by ``check(path, header)`` before
    anything is built from it, plus ``model_state`` and ``optimizer_state`` (state dicts).

    Raises:
        FileNotFoundError: no file at ``path`` (the message says how to make one).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"--resume: no checkpoint at {path}; train without --resume first (same --out)"
        )
    tensors, meta = cr.load(path, with_metadata=True)
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
    return meta


def check_same_settings(path: str, saved: dict, wanted: dict, keys: tuple[str, ...]) -> None:
    """Raises ``ValueError`` naming the first of ``keys`` whose value in the checkpoint's
    settings ``saved`` differs from this run's ``wanted``: a resumed run must share them."""
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
