"""What a training run writes and reads back: the weights alone (``model.safetensors``) and the
whole training state (``checkpoint.safetensors``: weights, optimiser state, data order, random
state and history), each in one atomically written safetensors file."""

from __future__ import annotations

import os
from dataclasses import asdict

import chainrule as cr
from chainrule import random as cr_random
from chainrule.checkpoint import CheckpointError, join_optimizer_state, split_optimizer_state

MODEL_KIND = "chainrule-model"
STATE_KIND = "chainrule-training-state"


def save_model(path: str, model, meta: dict, epoch: int) -> None:
    """The weights under their PyTorch-style names, plus what is needed to rebuild the model."""
    cr.save(model.state_dict(), path, {"kind": MODEL_KIND, "epoch": epoch, **meta})


def save_training_state(path, model, optimizer, loader, cfg, epoch, history, meta) -> None:
    """Everything ``--resume`` needs to continue exactly where epoch ``epoch`` ended."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = split_optimizer_state(optimizer.state_dict())
    tensors.update({f"optimizer.{k}": v for k, v in opt_tensors.items()})
    metadata = {
        "kind": STATE_KIND,
        "epoch": epoch,
        "config": asdict(cfg),
        "history": history,
        "optimizer": opt_meta,
        "loader": loader.state_dict(),
        "rng": cr_random.get_rng_state(),
        **meta,
    }
    cr.save(tensors, path, metadata)


def load_training_state(path: str) -> dict:
    """The pieces written by ``save_training_state``, checked to be a training state."""
    tensors, meta = cr.load(path, with_metadata=True)
    if meta.get("kind") != STATE_KIND:
        raise CheckpointError(
            f"{path} is not a chainrule training state (kind {meta.get('kind')!r})"
        )
    meta["model_state"] = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    meta["optimizer_tensors"] = {
        k[10:]: v for k, v in tensors.items() if k.startswith("optimizer.")
    }
    return meta


def restore(state: dict, model, optimizer, loader) -> None:
    """Puts a loaded training state back into the model, optimiser, loader and random generator."""
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(join_optimizer_state(state["optimizer_tensors"], state["optimizer"]))
    loader.load_state_dict(state["loader"])
    cr_random.set_rng_state(state["rng"])


def load_model(path: str):
    """Rebuilds a zoo model from ``model.safetensors`` (or ``checkpoint.safetensors``).

    Returns:
        ``(model, recipe, meta)`` with the model in eval mode.
    """
    from chainrule.models import get_recipe

    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    tensors, meta = cr.load(path, with_metadata=True)
    kind = meta.get("kind")
    if kind == STATE_KIND:
        tensors = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    elif kind != MODEL_KIND:
        raise CheckpointError(
            f"{path} is not a chainrule model checkpoint (kind {kind!r}); expected a "
            "model.safetensors written by 'chainrule train'"
        )
    recipe = get_recipe(meta["model"])
    model = recipe.build(tuple(meta["input_shape"]), int(meta["num_classes"]))
    model.load_state_dict(tensors)
    model.eval()
    return model, recipe, meta
