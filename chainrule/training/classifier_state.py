"""What a training run writes and reads back: the weights alone (``model.safetensors``) and the
whole training state (``checkpoint.safetensors``: weights, optimiser state, data order, random
state and history), each in one atomically written safetensors file."""

from __future__ import annotations

import math
import os
from dataclasses import asdict

from chainrule.serialization import (
    CheckpointError,
    load,
    load_weights,
    metadata_error,
    save,
    whole_number,
)
from chainrule.training import state, state_checks

MODEL_KIND = "chainrule-model"
STATE_KIND = "chainrule-training-state"


def save_model(path: str, model, meta: dict, epoch: int) -> None:
    """The weights under their PyTorch-style names, plus what is needed to rebuild the model."""
    save(model.state_dict(), path, {"kind": MODEL_KIND, "epoch": epoch, **meta})


def save_training_state(path, model, optimizer, scheduler, loader, cfg, position, history,
                        model_config, extra) -> None:  # fmt: skip
    """Everything ``--resume`` needs to continue exactly at ``position`` (a ``Position``), in
    the schema of ``training.state``; ``epoch`` (epochs completed) is the classifier's own."""
    state.save_training_state(path, model, optimizer, scheduler, state.header(
        STATE_KIND, position, loader, model_config, asdict(cfg), history,
        epoch=position.epoch, **extra,
    ))  # fmt: skip


def load_training_state(path: str) -> dict:
    """The pieces written by ``save_training_state``, checked to be a classifier's."""
    return state.read_training_state(path, _check_state)


def _check_state(path: str, meta: dict) -> None:
    """The metadata a resume relies on, checked, so that a tampered file is refused by name
    before training (an epoch of -1 trained epoch 0 and reported a model never written)."""
    if meta.get("kind") != STATE_KIND:
        raise CheckpointError(
            f"{path} is not a chainrule training state (kind {meta.get('kind')!r})"
        )
    epoch, history = meta.get("epoch"), meta.get("history")
    position = meta.get("position", {"epoch": epoch, "step": 0})  # none before the schema
    split = isinstance(position, dict) and position.get("step", 0) != 0  # a --minutes stop
    if not (whole_number(epoch) or (split and type(epoch) is int and epoch == 0)):
        raise metadata_error(path, "epoch", "a whole number >= 1 (epochs completed)", epoch)
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise metadata_error(path, "history", "a list of one dict per epoch", history)
    # One row per epoch (an epoch split by a --minutes stop has a row for each part).
    if len({r.get("epoch") for r in history}) != epoch + split:
        raise metadata_error(path, "history", f"{epoch} rows, one per epoch", len(history))
    state_checks.check_position(path, position)
    if position["epoch"] != epoch:
        raise metadata_error(path, "position", f"at epoch {epoch} (the 'epoch' key)", position)
    if "config" in meta:  # the run's settings before the schema named them train_config
        state_checks.check_dicts(path, meta, ("config",))
    settings = "train_config" if "train_config" in meta or "config" not in meta else "config"
    state_checks.check_dicts(path, meta, (settings, "optimizer", "loader"))
    if not isinstance(meta.get("rng"), (dict, list)):
        raise metadata_error(path, "rng", "a random generator state", meta.get("rng"))
    state_checks.check_loader(path, meta["loader"])
    ranks = meta.get("rng_ranks", [])
    if not isinstance(ranks, list):
        raise metadata_error(path, "rng_ranks", "a list of random generator states", ranks)
    for k, rank in enumerate(ranks):
        state_checks.check_rng(path, f"rng_ranks[{k}]", rank)


def restore(saved: dict, model, optimizer, loader, path: str = "the checkpoint") -> None:
    """Puts a loaded training state back into the model, optimiser, loader and random generator."""
    state.restore(saved, model, optimizer, path)
    state_checks.load_into(path, "loader", "data", loader.load_state_dict, saved["loader"])


def load_model(path: str):
    """Rebuilds a zoo model from ``model.safetensors`` (or ``checkpoint.safetensors``).

    Returns:
        ``(model, recipe, meta)`` with the model in eval mode.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    tensors, meta = load(path, with_metadata=True)
    kind = meta.get("kind")
    if kind == STATE_KIND:
        tensors = state.with_prefix(tensors, "model.")
        config = state.upgrade(meta)["model_config"]
        if not isinstance(config, dict):
            raise metadata_error(path, "model_config", "a dict", config)
        meta = {**meta, **config}
    elif kind != MODEL_KIND:
        raise CheckpointError(
            f"{path} is not a chainrule model checkpoint (kind {kind!r}); expected a "
            "model.safetensors written by 'chainrule train'"
        )
    recipe, input_shape, num_classes = model_spec(path, meta, tensors)
    model = recipe.build(input_shape, num_classes)
    load_weights(path, model, tensors)
    model.eval()
    return model, recipe, meta


def model_spec(path: str, meta: dict, tensors: dict):
    """``(recipe, input_shape, num_classes)`` from a checkpoint's metadata, each value checked,
    and checked against the tensors before any model is built from them.

    A model built from sizes bigger than the file's own weights cannot be the one saved: every
    zoo model's first layer holds at least as many values as one example has (C·H·W), and its
    last at least ``num_classes``. So a 9.5 kB file claiming a huge input shape (which cost
    0.8 GB) is refused here, with the file and the key named, by Python integer arithmetic.
    """
    from chainrule.models.registry import MODELS, get_recipe, load_optional_models

    load_optional_models()
    name = meta.get("model")
    if not isinstance(name, str) or name not in MODELS:
        raise metadata_error(path, "model", f"one of {sorted(MODELS)}", name)
    shape = meta.get("input_shape")
    if not isinstance(shape, list) or len(shape) not in (1, 3) or not all(map(whole_number, shape)):
        raise metadata_error(path, "input_shape", "a list of 1 or 3 whole numbers >= 1", shape)
    k = meta.get("num_classes")
    if not whole_number(k):
        raise metadata_error(path, "num_classes", "a whole number >= 1", k)
    from chainrule.datasets.registry import DATASETS

    data = meta.get("data")
    # As load_splits reads names: "MNIST" and "fashion_mnist" are fine.
    if not isinstance(data, str) or data.lower().replace("_", "-") not in DATASETS:
        raise metadata_error(path, "data", f"one of {sorted(DATASETS)}", data)
    if not isinstance(meta.get("flatten", False), bool):
        raise metadata_error(path, "flatten", "true or false", meta["flatten"])
    if "epoch" in meta and not whole_number(meta["epoch"]):
        raise metadata_error(path, "epoch", "a whole number >= 1", meta["epoch"])
    held = sum(math.prod(t.shape) for t in tensors.values())
    for what, n in (("input_shape", math.prod(shape)), ("num_classes", k)):
        if n > held:
            raise CheckpointError(
                f"{path}: the metadata does not describe the tensors: {what} {meta[what]} calls "
                f"for at least {n:,} weights in one layer, but the file holds {held:,} values "
                "in all; the file was altered or not written by 'chainrule train'"
            )
    return get_recipe(name), tuple(shape), k
