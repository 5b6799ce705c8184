"""Captioner checkpoints: the weights alone (``model.safetensors``) and the whole training state
(``checkpoint.safetensors``), each one atomically written safetensors file (``cr.save``).

Both carry, in the header, the checkpoint's kind, the model's ``CaptionerConfig`` and the
vocabulary's tokens, so that a captioner is rebuilt from the file alone, and so that a classifier's
checkpoint, or a captioner trained on another vocabulary, is refused with a message that says so.
"""

from __future__ import annotations

import os

from chainrule.datasets.vocab import SPECIALS, Vocabulary
from chainrule.serialization import CheckpointError, load, load_weights, metadata_error, save
from chainrule.training import state, state_checks

MODEL_KIND = "chainrule-captioner"
STATE_KIND = "chainrule-captioner-training-state"

# What other kinds are, to say so when one is given where a captioner was expected.
_OTHER_KINDS = {
    "chainrule-model": "a classifier checkpoint (written by 'chainrule train')",
    "chainrule-training-state": "a classifier training state (written by 'chainrule train')",
}


def save_captioner(path: str, model, vocab: Vocabulary, meta: dict | None = None) -> None:
    """Writes ``model``'s weights, config and vocabulary to ``path`` (kind ``chainrule-captioner``)."""
    save(
        model.state_dict(),
        path,
        {
            "kind": MODEL_KIND,
            "config": model.config.to_dict(),
            "vocab": vocab.tokens,
            **(meta or {}),
        },
    )


def _check_kind(path: str, meta: dict, allowed: tuple[str, ...]) -> None:
    kind = meta.get("kind")
    if kind in allowed:
        return
    what = _OTHER_KINDS.get(kind, f"of kind {kind!r}" if kind else "without a chainrule kind")
    if kind in _OTHER_KINDS and meta.get("model"):
        what += f" of model {meta['model']!r}"
    raise CheckpointError(
        f"{path}: not a captioner checkpoint: it is {what}; give the model.safetensors or "
        "checkpoint.safetensors written by 'chainrule caption train'"
    )


def check_vocabulary(path: str, saved: list[str], expected: Vocabulary) -> None:
    """Raises ``CheckpointError`` naming ``path`` and the first difference when the tokens of a
    checkpoint's vocabulary differ from ``expected``'s."""
    if list(saved) == expected.tokens:
        return
    for i, (a, b) in enumerate(zip(saved, expected.tokens, strict=False)):
        if a != b:
            detail = f"token {i} is {a!r} in the checkpoint but {b!r} in the data"
            break
    else:
        detail = f"{len(saved)} tokens in the checkpoint but {len(expected)} in the data"
    raise CheckpointError(f"{path}: vocabulary mismatch: {detail}")


def load_captioner(path: str, vocab: Vocabulary | None = None):
    """Rebuilds a captioner from ``model.safetensors`` or ``checkpoint.safetensors``.

    Args:
        path: the file.
        vocab: if given, the checkpoint's vocabulary must equal it (else ``CheckpointError``).

    Returns:
        ``(model, vocab, meta)``, the model in eval mode and the checkpoint's vocabulary.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: not a safetensors file, not a captioner, a vocabulary mismatch, or
            weights that do not fit the stored config; the message names the file.
    """
    from chainrule.models.captioner import Captioner, CaptionerConfig

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    tensors, meta = load(path, with_metadata=True)
    _check_kind(path, meta, (MODEL_KIND, STATE_KIND))
    if meta["kind"] == STATE_KIND:
        tensors = state.with_prefix(tensors, "model.")
        meta = state.upgrade(meta)
        meta["config"] = meta["model_config"]  # where a model file holds it
    tokens = meta.get("vocab")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise metadata_error(path, "vocab", "the vocabulary, a list of words", tokens)
    try:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"it must start with {SPECIALS}")
        saved_vocab = Vocabulary(tokens[len(SPECIALS) :])
    except ValueError as e:
        raise CheckpointError(f"{path}: the checkpoint's vocabulary is malformed: {e}") from None
    if vocab is not None:
        check_vocabulary(path, tokens, vocab)
    try:
        config = CaptionerConfig.from_dict(meta.get("config"))
    except ValueError as e:
        raise CheckpointError(f"{path}: malformed metadata: {e}") from None
    _check_key_shapes(path, config, tensors)
    if config.vocab_size != len(tokens):
        raise CheckpointError(
            f"{path}: vocabulary mismatch: the model has {config.vocab_size} output words but "
            f"the checkpoint's vocabulary {len(tokens)} tokens"
        )
    model = Captioner(config)
    load_weights(path, model, tensors)
    model.eval()
    return model, saved_vocab, meta


def _check_key_shapes(path: str, config, tensors: dict) -> None:
    """Refuses a config whose sizes the tensors do not have, before a model is built from it
    (``CaptionerConfig.key_shapes``): a 30 kB file claiming hidden_dim 3000 cost 460 MB."""
    for name, shape in config.key_shapes().items():
        if name not in tensors:
            raise CheckpointError(
                f"{path}: the checkpoint has no tensor {name!r}, which a captioner of its config "
                "has; the file was altered or not written by 'chainrule caption train'"
            )
        if tuple(tensors[name].shape) != shape:
            raise CheckpointError(
                f"{path}: the config does not describe the tensors: {name!r} has shape "
                f"{tuple(tensors[name].shape)}, the config {config.to_dict()} calls for {shape}; "
                "the file was altered or not written by 'chainrule caption train'"
            )


def save_training_state(path, model, optimizer, scheduler, loader, vocab, position, cfg,
                        history) -> None:  # fmt: skip
    """Everything ``--resume`` needs, in the schema of ``training.state``: weights, optimiser
    state, the learning-rate schedule, the loop's position (``{"epoch", "step"}``: the next
    batch to run) and the loader's, the random generator and the history; ``vocab`` is the
    captioner's own."""
    state.save_training_state(path, model, optimizer, scheduler, state.header(
        STATE_KIND, position, loader, model.config.to_dict(), cfg, history, vocab=vocab.tokens,
    ))  # fmt: skip


def _check_state(path: str, meta: dict) -> None:
    """The metadata a resume relies on, checked, so that a tampered file is refused by name."""
    _check_kind(path, meta, (STATE_KIND,))
    state_checks.check_position(path, meta.get("position"))
    history = meta.get("history")
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise metadata_error(path, "history", "a list of one dict per epoch", history)
    state_checks.check_dicts(path, meta, ("train_config", "optimizer", "rng"))
    if "loader" in meta:  # none before the schema: the position alone placed the data
        state_checks.check_loader(path, meta["loader"])


def load_training_state(path: str) -> dict:
    """The metadata of a training state plus ``model_state`` and ``optimizer_state``."""
    return state.read_training_state(path, _check_state)
