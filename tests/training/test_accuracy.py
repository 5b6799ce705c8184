"""Accuracy-reaching training runs on real data. Slow: excluded from the default run and CI; run
with ``.venv/bin/python -m pytest -m slow tests/training/test_accuracy.py``."""

from __future__ import annotations

import pytest

from chainrule.training.trainer import TrainConfig, train

pytestmark = pytest.mark.slow


def run(tmp_path, **kw):
    cfg = TrainConfig(out=str(tmp_path), **kw)
    result = train(cfg, log=print)
    print(result)
    return result


def test_nielsen_fashion_mnist_5_epochs(tmp_path):
    # The same algorithm written by hand in NumPy or PyTorch reaches 83-84% after 5 epochs. With
    # N(0, 1) weights and η = 3 the sigmoid network is chaotic: one seed says little (seeds 0-4
    # gave 81.6, 79.9, 82.2, 82.2 and 83.8%), so five seeds are run (replayed with cr.compile,
    # bit-identical to eager) and their best and mean are judged.
    accs = [
        run(tmp_path / str(s), model="nielsen", data="fashion-mnist", epochs=5, seed=s,
            compile=True)["test_accuracy"]
        for s in range(5)
    ]  # fmt: skip
    print("nielsen, 5 epochs, seeds 0-4:", accs)
    assert max(accs) >= 0.83
    assert sum(accs) / len(accs) >= 0.81


def test_nielsen_fashion_mnist_30_epochs(tmp_path):
    # ... and 84.7% after 30.
    r = run(tmp_path, model="nielsen", data="fashion-mnist", epochs=30)
    assert r["test_accuracy"] >= 0.84


def test_nielsen_mnist5k_passes_85_percent(tmp_path):
    # 4,000 train / 1,000 test: all 4,000 for training (no validation rows held out).
    r = run(tmp_path, model="nielsen", data="mnist5k", epochs=30, val_size=0)
    assert r["test_accuracy"] > 0.85


def test_mlp_fashion_mnist_10_epochs(tmp_path):
    # PyTorch with the same recipe: 88.7%.
    r = run(tmp_path, model="mlp", data="fashion-mnist", epochs=10)
    assert r["test_accuracy"] >= 0.885


def test_cnn_fashion_mnist_within_15_minutes(tmp_path):
    # Published two-conv-with-BN baselines reach 93.4%; the goal is 92.5% within 15 minutes.
    r = run(tmp_path, model="cnn", data="fashion-mnist")
    assert r["test_accuracy"] >= 0.925
    assert r["seconds"] < 15 * 60
