"""Runs that diverge or do not learn: a huge learning rate stops the run with one line and no
NumPy RuntimeWarning reaching the user, and a run whose loss stays finite while it learns
nothing (classifier and captioner) says so; the not-learning and not-improving rules."""

from __future__ import annotations

import pytest
from cli_checks import run_cli

from chainrule.captioning.train import not_improving
from chainrule.training.trainer import TrainConfig, not_learning, train

TINY_CAPTIONER = ["--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16",
                  "--attention-dim", "8", "--train-size", "64", "--val-size", "16"]  # fmt: skip


def test_a_huge_learning_rate_stops_with_one_line_and_no_numpy_warning(tmp_path, capsys):
    """The issue's input: chainrule train mlp --data digits --lr 1e12."""
    argv = ["train", "mlp", "--data", "digits", "--lr", "1e12", "--out", str(tmp_path)]
    rc, _, err, caught = run_cli(capsys, argv)
    assert caught == []
    assert rc == 1  # a failed run, not bad input
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "RuntimeWarning" not in err
    assert "the loss became nan at epoch 1" in lines[0] and "Try a smaller --lr" in lines[0]


@pytest.mark.parametrize("lr", ["1e12", "1e30"])
def test_sgd_at_huge_rates_is_quiet_too(tmp_path, capsys, lr):
    argv = ["train", "nielsen", "--data", "digits", "--lr", lr, "--optimizer", "sgd",
            "--epochs", "2", "--out", str(tmp_path)]  # fmt: skip
    rc, _, err, caught = run_cli(capsys, argv)
    assert caught == [] and "Warning" not in err
    assert rc in (0, 1)  # the quadratic cost of sigmoids may saturate without a NaN


def test_adam_at_1e6_never_gives_nan_and_is_reported_not_learning(tmp_path, capsys):
    """Adam's step is about lr long whatever the gradient: the loss stays finite, the accuracy
    at chance; after NOT_LEARNING_EPOCHS epochs one warning line says so."""
    argv = ["train", "mlp", "--data", "digits", "--lr", "1e6", "--epochs", "4",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    rc, out, _, caught = run_cli(capsys, argv)
    assert rc == 0 and caught == []
    warned = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "the model is not learning" in warned[0]
    assert "Try a smaller --lr" in warned[0]
    import json

    assert json.loads(out.strip().splitlines()[-1])["not_learning"] is True


def test_a_run_that_learns_is_not_warned_about(tmp_path):
    lines = []
    cfg = TrainConfig(model="mlp", data="digits", epochs=4, out=str(tmp_path))
    result = train(cfg, log=lines.append)
    assert result["not_learning"] is False
    assert not [line for line in lines if line.startswith("warning:")]


def test_not_learning_rule():
    rows = [{"train_accuracy": a} for a in (0.10, 0.12, 0.18)]
    assert not_learning(rows, chance=0.1)  # 0.18 - 0.1 <= 0.1 * 0.9
    assert not not_learning(rows[:2], chance=0.1)  # fewer epochs than the rule needs
    assert not not_learning([*rows, {"train_accuracy": 0.2}], chance=0.1)  # 0.1 > 0.09
    assert not_learning([{"train_accuracy": 0.5}] * 3, chance=0.5)  # a balanced binary task
    assert not not_learning([{"train_accuracy": 0.56}] * 3, chance=0.5)


def test_not_improving_rule():
    assert not not_improving([4.0, 3.0, 2.0, 1.0])
    assert not_improving([4.0, 9.0, 8.0, 7.0])  # best at epoch 1, three epochs above it
    assert not not_improving([4.0, 9.0, 8.0])  # needs three epochs after the best
    assert not not_improving([4.0, 9.0, 8.0, 3.9])


def test_captioner_at_adam_1e6_is_quiet_and_warned_about(tmp_path, capsys):
    argv = ["caption", "train", "--lr", "1e6", "--epochs", "4", "--out", str(tmp_path),
            *TINY_CAPTIONER]  # fmt: skip
    rc, out, err, caught = run_cli(capsys, argv)
    assert caught == [] and "Warning" not in err
    if rc == 1:  # the loss may become NaN instead: then one line, the clean stop
        assert "the loss became" in err
        return
    assert rc == 0
    warned = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "has not improved for 3 epochs" in warned[0]
