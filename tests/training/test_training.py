"""The training loop and the CLI end to end, on scikit-learn's small 8x8 digits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.training.trainer import TrainConfig, TrainingDiverged, train

QUIET = {"log": lambda s: None}


def params_of(out_dir):
    return {k: v.numpy() for k, v in cr.load(os.path.join(out_dir, "model.safetensors")).items()}


def test_two_epochs_then_two_more_equal_four_straight(tmp_path):
    """A recipe without a learning-rate schedule: 2 epochs, then --resume with --epochs 4, gives
    bit for bit the parameters of 4 epochs straight."""
    base = dict(model="nielsen", data="digits", batch_size=32, seed=3)
    train(TrainConfig(**base, epochs=4, out=str(tmp_path / "straight")), **QUIET)
    split = TrainConfig(**base, epochs=2, out=str(tmp_path / "split"))
    train(split, **QUIET)
    split.epochs = 4
    train(split, resume=True, **QUIET)
    assert_same_params(tmp_path / "straight", tmp_path / "split")


class Interrupt(Exception):
    pass


def stop_after(n_epochs):
    """A log function that interrupts training once ``n_epochs`` epochs are reported (and so
    saved), like a Ctrl-C or a kill at that moment."""

    def log(line):
        if line.startswith(f"Epoch {n_epochs}:"):
            raise Interrupt

    return log


@pytest.mark.parametrize(
    "model,optimizer", [("mlp", "adam"), ("nielsen", "sgd"), ("mlp", "momentum"), ("cnn", "adam")]
)
def test_interrupted_run_resumed_equals_run_straight(tmp_path, model, optimizer):
    """Killed after epoch 2 of 4, then resumed: the same parameters, data order, dropout draws,
    batch-norm statistics and learning-rate schedule as 4 epochs straight."""
    base = dict(model=model, data="digits", batch_size=32, optimizer=optimizer, seed=3, epochs=4)
    train(TrainConfig(**base, out=str(tmp_path / "straight")), **QUIET)
    cfg = TrainConfig(**base, out=str(tmp_path / "split"))
    with pytest.raises(Interrupt):
        train(cfg, log=stop_after(2))
    train(cfg, resume=True, **QUIET)
    assert_same_params(tmp_path / "straight", tmp_path / "split")
    rows = [json.loads(line) for line in open(tmp_path / "split" / "metrics.jsonl")]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.parametrize("model", ["nielsen", "mlp", "cnn"])
def test_compiled_training_equals_eager_and_resumes(tmp_path, model):
    """--compile replays the training step (cr.compile): the parameters after 3 epochs are the
    eager run's to the last bit, also when the compiled run is killed after epoch 2 and resumed
    (the last, smaller batch of each epoch is a second input shape, recorded separately)."""
    base = dict(model=model, data="digits", batch_size=32, seed=3, epochs=3, limit=300)
    train(TrainConfig(**base, out=str(tmp_path / "eager")), **QUIET)
    cfg = TrainConfig(**base, out=str(tmp_path / "compiled"), compile=True)
    with pytest.raises(Interrupt):
        train(cfg, log=stop_after(2))
    result = train(cfg, resume=True, **QUIET)
    assert result["compiled_steps"] == {"replays": 7, "recordings": 3, "eager_calls": 0}
    assert_same_params(tmp_path / "eager", tmp_path / "compiled")


def assert_same_params(dir_a, dir_b):
    a, b = params_of(dir_a), params_of(dir_b)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_refuses_a_different_setting(tmp_path):
    cfg = TrainConfig(model="mlp", data="digits", epochs=1, out=str(tmp_path))
    train(cfg, **QUIET)
    cfg.seed = 9
    cfg.epochs = 2
    with pytest.raises(ValueError, match=r"seed=0.*seed=9"):
        train(cfg, resume=True, **QUIET)


def test_diverging_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(
        model="mlp", data="digits", epochs=1, out=str(tmp_path), lr=0.05, optimizer="sgd"
    )
    train(cfg, **QUIET)
    good = params_of(tmp_path)
    cfg.epochs, cfg.lr = 2, 1e12  # resumed at a huge learning rate, epoch 2 blows up
    # no np.errstate here: train() itself keeps NumPy's overflow warnings from the user
    # (pytest turns any RuntimeWarning into an error)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step \d+.*after epoch 1"):
        train(cfg, resume=True, **QUIET)
    after = params_of(tmp_path)
    for k in good:
        np.testing.assert_array_equal(good[k], after[k])
    assert json.loads(open(tmp_path / "metrics.jsonl").read().splitlines()[-1])["epoch"] == 1


def test_cli_train_and_eval_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "mlp",
            "--data",
            "digits",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["epochs"] == 2 and result["test_accuracy"] > 0.5
    assert lines[0] == (
        "recipe: mlp on digits: optimizer adam, lr 0.001, cosine decay, batch size 64, epochs 2"
    )
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert [e.split(":")[0] for e in epochs] == ["Epoch 1", "Epoch 2"]  # from 1, as metrics.jsonl
    assert all("/ 137" in e for e in epochs)
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for name in ("model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in os.listdir(out) if "tmp" in p]
    rc = main(["eval", str(out / "model.safetensors"), "--json"])
    assert rc == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["test_accuracy"] == result["test_accuracy"]


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    def run(*a):
        return subprocess.run(
            [sys.executable, "-m", "chainrule.cli.main", *a], capture_output=True, text=True
        )

    r = run("eval", str(tmp_path / "missing.safetensors"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "missing.safetensors" in r.stderr
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    r = run("eval", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bad.safetensors" in r.stderr
    r = run(
        "train",
        "mlp",
        "--data",
        "mnist",
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "o"),
        "--root",
        str(tmp_path),
    )
    if (
        "NOT FOUND"
        in subprocess.run(
            [sys.executable, "-m", "chainrule.cli.main", "datasets"], capture_output=True, text=True
        ).stdout
    ):
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "train-images-idx3-ubyte" in r.stderr


def test_nielsen_prints_epoch_lines_like_the_seed_code(tmp_path, capsys):
    main(["train", "nielsen", "--data", "digits", "--epochs", "1", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "recipe: nielsen on digits: optimizer sgd, lr 3, batch size 10, epochs 1"
    assert lines[1].startswith("Epoch 1: ") and lines[1].endswith(" / 137")


def test_another_optimizer_without_lr_takes_its_own_default_and_says_so(tmp_path, capsys):
    from chainrule import optim

    args = ["train", "nielsen", "--data", "digits", "--epochs", "1", "--limit", "50"]
    assert main([*args, "--optimizer", "momentum", "--out", str(tmp_path / "m")]) == 0
    lines = capsys.readouterr().out.splitlines()
    sgd_default = optim.SGD([cr.zeros(1, requires_grad=True)]).param_groups[0]["lr"]
    assert lines[0] == (
        f"recipe: nielsen on digits: optimizer momentum, lr {sgd_default:g}, batch size 10, epochs 1"
    )
    assert lines[1] == (
        f"  --optimizer momentum without --lr: lr {sgd_default:g}, the default of "
        "chainrule.optim.SGD (the recipe's lr 3 is for sgd); give --lr to choose another"
    )
    row = json.loads((tmp_path / "m" / "metrics.jsonl").read_text().splitlines()[0])
    assert row["lr"] == sgd_default
    # Adam's documented default, 1e-3; an explicit --lr is taken as given, with no note.
    assert main([*args, "--optimizer", "adam", "--out", str(tmp_path / "a")]) == 0
    assert "lr 0.001, the default of chainrule.optim.Adam" in capsys.readouterr().out
    assert main([*args, "--optimizer", "adam", "--lr", "0.01", "--out", str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("recipe: nielsen on digits: optimizer adam, lr 0.01,")
    assert not lines[1].startswith("  --optimizer")


def test_train_help_says_each_default_once(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and "(default: False)" not in text
    assert "epochs (default: the recipe's) --batch-size" in text
    assert "seed of initialisation and data order (default: 0)" in text
    with pytest.raises(SystemExit):
        main(["caption", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: True)" not in text and "(default: None)" not in text
    assert "(Show, Attend and Tell); the default --no-attention the baseline" in text


def test_datasets_command_lists_fashion_mnist(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"fashion-mnist", "mnist", "mnist5k", "digits"}


def test_show_draws_filters_and_activations_of_a_cnn(tmp_path, capsys):
    train(TrainConfig(model="cnn", data="digits", epochs=1, out=str(tmp_path / "cnn")), **QUIET)
    ckpt = str(tmp_path / "cnn" / "model.safetensors")
    for what in ("filters", "activations"):
        out = tmp_path / f"{what}.png"
        assert main(["show", ckpt, "--what", what, "--image", "2", "--out", str(out)]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_show_refuses_a_model_without_convolutions(tmp_path, capsys):
    train(TrainConfig(model="mlp", data="digits", epochs=1, out=str(tmp_path)), **QUIET)
    assert main(["show", str(tmp_path / "model.safetensors")]) == 2
    assert "no convolution layer" in capsys.readouterr().err


def test_training_without_validation_rows(tmp_path):
    r = train(
        TrainConfig(model="nielsen", data="digits", epochs=1, val_size=0, out=str(tmp_path)),
        **QUIET,
    )
    assert r["val_accuracy"] is None and r["epochs"] == 1 and 0 <= r["test_accuracy"] <= 1


def test_schedule_continues_exactly_or_takes_up_a_changed_cosine():
    """training.loop.schedule: a saved CosineAnnealingLR made for the same lr, length and
    position continues bit for bit; a changed length is taken up by the closed form."""
    import math

    from chainrule.training.loop import schedule

    def opt():
        return cr.optim.Adam([cr.zeros(1, requires_grad=True)], lr=1.0)

    a = opt()
    straight = schedule(a, "cosine", 0.1, 7)
    lrs = []
    for _ in range(7):
        lrs.append(a.param_groups[0]["lr"])
        straight.step()
    b = opt()
    first = schedule(b, "cosine", 0.1, 7)
    for _ in range(3):
        first.step()
    c = opt()
    c.load_state_dict(b.state_dict())
    resumed = schedule(c, "cosine", 0.1, 7, done=3, saved=first.state_dict())
    rest = []
    for _ in range(4):
        rest.append(c.param_groups[0]["lr"])
        resumed.step()
    assert rest == lrs[3:]
    d = opt()
    schedule(d, "cosine", 0.1, 10, done=3, saved=first.state_dict())
    assert d.param_groups[0]["lr"] == pytest.approx(0.05 * (1 + math.cos(math.pi * 3 / 10)))
    assert schedule(opt(), "constant", 0.1, 7) is None


def test_captioner_cosine_resumed_mid_epoch_equals_straight(tmp_path):
    from chainrule.captioning.train import CaptionTrainConfig, train_captioner

    base = dict(train_size=48, val_size=8, batch_size=16, schedule="cosine", lr=3e-3,
                channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, epochs=2)  # fmt: skip
    quiet = dict(log=lambda s: None, progress=False)
    train_captioner(CaptionTrainConfig(**base, out=str(tmp_path / "straight")), **quiet)
    split = CaptionTrainConfig(**base, out=str(tmp_path / "split"), minutes=0.0)
    assert train_captioner(split, **quiet)["position"] == {"epoch": 0, "step": 1}
    split.minutes = None
    train_captioner(split, resume=True, **quiet)
    assert_same_params(tmp_path / "straight", tmp_path / "split")


def test_resume_from_a_state_whose_schedule_is_tampered_is_refused_by_name(tmp_path):
    from chainrule.serialization import CheckpointError

    cfg = TrainConfig(model="mlp", data="digits", epochs=1, limit=128, out=str(tmp_path))
    train(cfg, **QUIET)
    path = tmp_path / "checkpoint.safetensors"
    tensors, meta = cr.load(path, with_metadata=True)
    assert meta["scheduler"]["T_max"] == 1 and meta["scheduler"]["last_epoch"] == 1
    meta["scheduler"] = [1, 2]
    cr.save(tensors, path, meta)
    cfg.epochs = 2
    with pytest.raises(
        CheckpointError, match=r"checkpoint\.safetensors: malformed metadata: 'scheduler'"
    ):
        train(cfg, resume=True, **QUIET)
