"""Training states whose metadata lies (classifier and captioner): ``--resume`` from a tampered
state is one line naming it, exit code 2, and a model file whose epoch is negative is refused."""

from __future__ import annotations

import pytest
from cli_checks import one_line_error

import chainrule as cr
from chainrule.captioning import CaptionTrainConfig, train_captioner
from chainrule.serialization import CheckpointError
from chainrule.training.classifier_state import load_model
from chainrule.training.trainer import TrainConfig, train

# ----- training states whose metadata lies -----
CLASSIFIER = dict(model="mlp", data="digits", batch_size=64, epochs=1, limit=128, seed=0)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(**CLASSIFIER, out=str(out)), log=lambda s: None)
    return out


def tamper(path, **changes) -> None:
    """Rewrites the metadata (with a fresh digest: the file is valid, its metadata lies)."""
    tensors, meta = cr.load(path, with_metadata=True)
    meta.update(changes)
    cr.save(tensors, path, meta)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"epoch": -1}, "'epoch' must be a whole number >= 1"),
        ({"epoch": 0}, "'epoch' must be a whole number >= 1"),
        ({"epoch": "1"}, "'epoch' must be a whole number >= 1"),
        ({"epoch": True}, "'epoch' must be a whole number >= 1"),
        ({"epoch": 5}, "'history' must be 5 rows"),
        ({"history": "none"}, "'history' must be a list"),
        ({"config": []}, "'config' must be a dict"),
        ({"loader": None}, "'loader' must be a dict"),
        ({"rng": 3}, "'rng' must be a random generator state"),
    ],
)
def test_cli_resume_from_a_tampered_state_is_one_line_naming_it(
    classifier_run, tmp_path, capsys, changes, says
):
    out = tmp_path / "out"
    out.mkdir()
    state = out / "checkpoint.safetensors"
    state.write_bytes((classifier_run / "checkpoint.safetensors").read_bytes())
    tamper(state, **changes)
    argv = ["train", "mlp", "--data", "digits", "--batch-size", "64", "--epochs", "2",
            "--limit", "128", "--out", str(out), "--resume"]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert msg.startswith(f"chainrule train: error: {state}: malformed metadata: ")
    assert says in msg
    assert not (out / "model.safetensors").exists()  # nothing reported that was not written


def test_a_model_file_whose_epoch_is_negative_is_refused(classifier_run, tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes((classifier_run / "model.safetensors").read_bytes())
    tamper(path, epoch=-3)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: malformed metadata: 'epoch'"):
        load_model(str(path))


TINY = dict(channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, train_size=16,
            val_size=8, batch_size=16, epochs=1, schedule="constant")  # fmt: skip


@pytest.fixture(scope="module")
def captioner_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("caption")
    train_captioner(CaptionTrainConfig(**TINY, out=str(out)), log=lambda s: None, progress=False)
    return out


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"position": {"epoch": -1, "step": 0}}, "'position' must be"),
        ({"position": {"epoch": 1}}, "'position' must be"),
        ({"position": {"epoch": 1, "step": 1.5}}, "'position' must be"),
        ({"history": {"a": 1}}, "'history' must be a list"),
        ({"train_config": "x"}, "'train_config' must be a dict"),
        ({"optimizer": 1}, "'optimizer' must be a dict"),
    ],
)
def test_caption_resume_from_a_tampered_state_is_one_line(
    captioner_run, tmp_path, capsys, changes, says
):
    out = tmp_path / "out"
    out.mkdir()
    state = out / "checkpoint.safetensors"
    state.write_bytes((captioner_run / "checkpoint.safetensors").read_bytes())
    tamper(state, **changes)
    argv = ["caption", "train", "--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16",
            "--attention-dim", "8", "--train-size", "16", "--val-size", "8", "--batch-size",
            "16", "--epochs", "2", "--schedule", "constant", "--out", str(out), "--resume"]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert f"{state}: malformed metadata: " in msg and says in msg
