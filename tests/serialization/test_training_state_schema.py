"""The one training-state schema of both trainers: the loop's position, the loader's, the
model's config and the run's settings under distinct keys; files in the layout written before
it resume to the same weights; the classifier's --minutes stop resumes mid-epoch bit for bit;
the captioner's --optimizer is one of its settings."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning.train import CaptionTrainConfig, train_captioner
from chainrule.serialization import load_metadata
from chainrule.training.trainer import TrainConfig, train

SCHEMA = {"kind", "position", "loader", "model_config", "train_config", "history", "optimizer",
          "rng"}  # fmt: skip
CLASSIFIER = dict(model="mlp", data="digits", limit=96, batch_size=32, epochs=2)
CAPTIONER = dict(channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, train_size=16,
                 val_size=4, batch_size=8, epochs=2, schedule="cosine")  # fmt: skip


def quiet(_: str) -> None:
    pass


def weights(out) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in cr.load(str(out / "model.safetensors")).items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def rewrite(path, change) -> None:
    tensors, meta = cr.load(str(path), with_metadata=True)
    change(meta)
    cr.save(tensors, str(path), meta)


def to_old_classifier_layout(meta: dict) -> None:
    """The classifier's layout before the schema: settings under 'config' (without the flags
    added since), the model's keys top-level, no position."""
    settings = meta.pop("train_config")
    for key in ("schedule", "minutes"):
        settings.pop(key)
    meta["config"] = settings
    meta.update(meta.pop("model_config"))
    del meta["position"]


def to_old_captioner_layout(meta: dict) -> None:
    """The captioner's layout before the schema: its model's config under 'config', no loader
    state, settings without --optimizer."""
    meta["config"] = meta.pop("model_config")
    del meta["loader"]
    meta["train_config"].pop("optimizer")


@pytest.fixture(scope="module")
def classifier_straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    train(TrainConfig(**CLASSIFIER, out=str(out)), log=quiet)
    return weights(out)


def test_both_trainers_write_the_schema_keys(tmp_path):
    train(TrainConfig(**{**CLASSIFIER, "epochs": 1}, out=str(tmp_path / "c")), log=quiet)
    cfg = CaptionTrainConfig(**{**CAPTIONER, "epochs": 1}, out=str(tmp_path / "k"))
    train_captioner(cfg, log=quiet, progress=False)
    c = load_metadata(tmp_path / "c" / "checkpoint.safetensors")
    k = load_metadata(tmp_path / "k" / "checkpoint.safetensors")
    assert SCHEMA <= set(c) and SCHEMA <= set(k)
    assert "config" not in c and "config" not in k  # no key means two things any more
    assert c["position"] == k["position"] == {"epoch": 1, "step": 0}
    assert c["train_config"]["model"] == c["model_config"]["model"] == "mlp"
    assert k["model_config"]["hidden_dim"] == k["train_config"]["hidden_dim"] == 16
    assert c["loader"]["batches_done"] == k["loader"]["batches_done"] == 0


def test_a_classifier_state_of_the_old_layout_resumes_to_the_same_weights(
    tmp_path, classifier_straight
):
    cfg = TrainConfig(**CLASSIFIER, out=str(tmp_path))
    train(TrainConfig(**{**CLASSIFIER, "epochs": 1}, out=str(tmp_path)), log=quiet)
    rewrite(tmp_path / "checkpoint.safetensors", to_old_classifier_layout)
    assert "position" not in load_metadata(tmp_path / "checkpoint.safetensors")
    train(cfg, resume=True, log=quiet)
    assert_same_weights(weights(tmp_path), classifier_straight)


def test_the_classifier_stopped_mid_epoch_by_minutes_resumes_bit_for_bit(
    tmp_path, classifier_straight
):
    result = train(TrainConfig(**CLASSIFIER, out=str(tmp_path), minutes=0), log=quiet)
    meta = load_metadata(tmp_path / "checkpoint.safetensors")
    assert meta["position"] == {"epoch": 0, "step": 1} and meta["epoch"] == 0
    assert meta["loader"]["batches_done"] == 1 and result["epochs"] == 1
    assert meta["history"][0]["partial"] is True
    train(TrainConfig(**CLASSIFIER, out=str(tmp_path)), resume=True, log=quiet)
    assert_same_weights(weights(tmp_path), classifier_straight)


def test_a_captioner_state_of_the_old_layout_resumes_to_the_same_weights(tmp_path):
    straight = tmp_path / "straight"
    train_captioner(CaptionTrainConfig(**CAPTIONER, out=str(straight)), log=quiet,
                    progress=False)  # fmt: skip
    out = tmp_path / "old"
    cut = CaptionTrainConfig(**CAPTIONER, out=str(out), minutes=0)  # stops after one step
    train_captioner(cut, log=quiet, progress=False)
    rewrite(out / "checkpoint.safetensors", to_old_captioner_layout)
    assert load_metadata(out / "checkpoint.safetensors")["position"] == {"epoch": 0, "step": 1}
    train_captioner(CaptionTrainConfig(**CAPTIONER, out=str(out)), resume=True, log=quiet,
                    progress=False)  # fmt: skip
    assert_same_weights(weights(out), weights(straight))


def test_the_captioner_optimizer_is_a_setting_a_resume_must_share(tmp_path):
    cfg = CaptionTrainConfig(**{**CAPTIONER, "epochs": 1}, optimizer="sgd", out=str(tmp_path))
    train_captioner(cfg, log=quiet, progress=False)
    meta = load_metadata(tmp_path / "checkpoint.safetensors")
    assert meta["train_config"]["optimizer"] == "sgd"
    assert "momentum_buffer" not in str(meta["optimizer"]) and "exp_avg" not in str(meta)
    again = CaptionTrainConfig(**CAPTIONER, out=str(tmp_path))  # adam, the default
    with pytest.raises(ValueError, match=r"trained with optimizer='sgd'.*optimizer='adam'"):
        train_captioner(again, resume=True, log=quiet, progress=False)
