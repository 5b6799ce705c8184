"""Fault injection at each point of the epoch-end sequence (checkpoint, model, metrics, curves):
a run killed there and resumed ends with every output equal to an uninterrupted run's (issue 15).
Also: the hidden temporary file of a killed ``cr.save`` is removed by a later save."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning import CaptionTrainConfig, train_captioner
from chainrule.captioning import train as caption_train
from chainrule.serialization import save_load
from chainrule.training import trainer
from chainrule.training.trainer import TrainConfig, train

TIMING = ("seconds", "examples_per_second", "pairs_per_second")
TINY = dict(channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, dropout=0.2)


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs (not an Exception, so nothing catches it)."""


def kill_on_call(monkeypatch, module, name: str, call: int) -> None:
    """Makes ``module.name`` die on its ``call``-th call (1-based), before doing anything."""
    real = getattr(module, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            monkeypatch.setattr(module, name, real)
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def outputs(out_dir) -> dict:
    """Everything a run leaves that must not depend on where it was killed: the model's
    tensors and metadata, the metrics without their timings, and the curves' bytes."""
    tensors, meta = cr.load(os.path.join(out_dir, "model.safetensors"), with_metadata=True)
    if "train_config" in meta:  # the captioner's: the same but for the output folder
        meta["train_config"].pop("out")
    rows = [json.loads(line) for line in open(os.path.join(out_dir, "metrics.jsonl"))]
    rows = [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
    with open(os.path.join(out_dir, "curves.png"), "rb") as f:
        png = f.read()
    return {"tensors": {k: v.numpy() for k, v in tensors.items()}, "meta": meta, "rows": rows,
            "png": png}  # fmt: skip


def assert_same_outputs(a: dict, b: dict) -> None:
    assert a["tensors"].keys() == b["tensors"].keys()
    for k in a["tensors"]:
        np.testing.assert_array_equal(a["tensors"][k], b["tensors"][k], err_msg=k)
    assert a["meta"] == b["meta"]
    assert a["rows"] == b["rows"]
    assert a["png"] == b["png"]


# The epoch-end sequence after the checkpoint: the functions that write the other outputs,
# looked up in the module that calls them. Dying on the first is a kill after the checkpoint,
# on the second after the model, on the third after the metrics.
CLASSIFIER_STEPS = [
    (trainer.classifier_state, "save_model"),
    (trainer, "write_metrics"),
    (trainer, "plot_curves"),
]


@pytest.fixture(scope="module")
def classifier_straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    train(TrainConfig(**CLASSIFIER, out=str(out)), log=lambda s: None)
    return outputs(out)


CLASSIFIER = dict(model="nielsen", data="digits", batch_size=64, seed=3, epochs=3, limit=256)


@pytest.mark.parametrize("epoch", [2, 3])
@pytest.mark.parametrize("step", range(len(CLASSIFIER_STEPS)))
def test_classifier_killed_at_epoch_end_resumes_to_the_same_outputs(
    tmp_path, monkeypatch, classifier_straight, step, epoch
):
    """Killed at each point after epoch ``epoch``'s checkpoint; ``--resume`` (with nothing left
    to train when ``epoch`` is the last) ends with the uninterrupted run's outputs."""
    cfg = TrainConfig(**CLASSIFIER, out=str(tmp_path))
    module, name = CLASSIFIER_STEPS[step]
    kill_on_call(monkeypatch, module, name, epoch)
    with pytest.raises(Killed):
        train(cfg, log=lambda s: None)
    assert save_load.load_metadata(tmp_path / "checkpoint.safetensors")["epoch"] == epoch
    result = train(cfg, resume=True, log=lambda s: None)
    assert result["epochs"] == 3
    assert_same_outputs(outputs(tmp_path), classifier_straight)


CAPTIONER = dict(train_size=32, val_size=8, batch_size=16, schedule="constant", lr=3e-3,
                 epochs=2, **TINY)  # fmt: skip
CAPTIONER_STEPS = [
    (caption_train.ckpt, "save_captioner"),
    (caption_train, "write_metrics"),
    (caption_train, "plot_caption_curves"),
]


@pytest.fixture(scope="module")
def captioner_straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("caption_straight")
    train_captioner(CaptionTrainConfig(**CAPTIONER, out=str(out)), log=lambda s: None,
                    progress=False)  # fmt: skip
    return outputs(out)


@pytest.mark.parametrize("epoch", [1, 2])
@pytest.mark.parametrize("step", range(len(CAPTIONER_STEPS)))
def test_captioner_killed_at_epoch_end_resumes_to_the_same_outputs(
    tmp_path, monkeypatch, captioner_straight, step, epoch
):
    cfg = CaptionTrainConfig(**CAPTIONER, out=str(tmp_path))
    module, name = CAPTIONER_STEPS[step]
    kill_on_call(monkeypatch, module, name, epoch)
    with pytest.raises(Killed):
        train_captioner(cfg, log=lambda s: None, progress=False)
    meta = save_load.load_metadata(tmp_path / "checkpoint.safetensors")
    assert meta["position"] == {"epoch": epoch, "step": 0}
    train_captioner(cfg, resume=True, log=lambda s: None, progress=False)
    assert_same_outputs(outputs(tmp_path), captioner_straight)


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path, monkeypatch):
    """A kill inside the write leaves ``.NAME.PID.HEX.tmp`` (no cleanup runs); the next save of
    that name removes it once its process is gone, and leaves a live process's file alone."""
    path = tmp_path / "model.safetensors"
    x = {"w": cr.from_numpy(np.arange(6.0).reshape(2, 3))}  # a tensor: an array loads as one

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(save_load, "_write_file", die)
    monkeypatch.setattr(save_load.os, "unlink", lambda p: None)  # a kill skips the cleanup
    with pytest.raises(Killed):
        cr.save(x, path)
    monkeypatch.undo()
    (left,) = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert left.startswith(f".model.safetensors.{os.getpid()}.")
    # the same file as left by a process that has since died (no pid is that large)...
    dead = f".model.safetensors.{2**40}.0123abcd.tmp"
    os.rename(tmp_path / left, tmp_path / dead)
    # ...and one of a process alive now (this one), and another file's temporary
    live = f".model.safetensors.{os.getpid()}.deadbeef.tmp"
    other = f".other.safetensors.{2**40}.0123abcd.tmp"
    for name in (live, other):
        (tmp_path / name).write_bytes(b"partial")
    cr.save(x, path)
    assert sorted(os.listdir(tmp_path)) == sorted([live, "model.safetensors", other])
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), x["w"])
