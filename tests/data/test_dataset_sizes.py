"""A named data set checked against its published size (issue 28): ``--data fashion-mnist`` with a
300-image IDX set in ``$CHAINRULE_DATA`` trained and reported "fashion-mnist". Files found in the
shared places must hold the set's known number of images; a folder given as the root (``--root``)
holds the user's own files, taken at any size."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import datasets
from chainrule.cli.main import main
from chainrule.datasets import DatasetFormatError, write_idx
from chainrule.datasets import mnist as mnist_module


def write_set(folder, n_train: int = 300, n_test: int = 100) -> None:
    """A small IDX set under MNIST's four standard names."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8)
        )
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """$CHAINRULE_DATA names a folder holding a 300 + 100 image set; no system places."""
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-mnist")])
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-fashion")])
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    write_set(tmp_path / "env")
    return tmp_path / "env"


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_a_small_set_in_chainrule_data_is_refused_by_name(shared, name):
    with pytest.raises(DatasetFormatError) as e:
        datasets.load_splits(name)
    msg = str(e.value)
    assert msg.startswith(f"{shared / 'train-images-idx3-ubyte.gz'}: 300 training images, ")
    assert f"the data set {name!r} has 60,000 training + 10,000 test images" in msg
    assert f"found in {shared} are another set" in msg
    assert f"--root {shared}" in msg and "\n" not in msg


def test_get_dataset_refuses_it_too_and_checks_the_test_split(shared):
    with pytest.raises(DatasetFormatError, match="100 test images, but the data set 'mnist'"):
        datasets.get_dataset("mnist", split="test")


def test_a_small_set_in_a_system_place_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    write_set(tmp_path / "sys")
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "sys")])
    with pytest.raises(DatasetFormatError, match="another set"):
        datasets.load_splits("mnist")


def test_the_same_files_under_root_are_the_users_own(shared, tmp_path):
    splits = datasets.load_splits("fashion-mnist", root=shared, val_size=50)
    assert [len(labels) for _, labels in splits] == [250, 50, 100]
    assert len(datasets.get_dataset("mnist", split="test", root=shared)) == 100
    # and in the root's subfolder named after the set, where the search looks too
    write_set(tmp_path / "own" / "mnist", 40, 20)
    assert len(datasets.load_splits("mnist", root=tmp_path / "own", val_size=0).test[1]) == 20


def test_a_root_that_does_not_hold_them_does_not_excuse_the_shared_files(shared, tmp_path):
    with pytest.raises(DatasetFormatError, match="another set"):
        datasets.load_splits("fashion-mnist", root=tmp_path / "empty")


@pytest.mark.parametrize("name", ["digits", "mnist5k"])
def test_the_bundled_sets_keep_their_sizes(name, monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    try:
        splits = datasets.load_splits(name)
    except datasets.DatasetNotFoundError:
        pytest.skip(f"{name} not installed")
    src = datasets.registry.DATASETS[name]
    assert len(splits.train[1]) + len(splits.val[1]) == src.n_train
    assert len(splits.test[1]) == src.n_test


def test_train_refuses_it_in_one_line_and_trains_it_under_root(shared, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "mlp", "--data", "fashion-mnist", "--epochs", "1", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"chainrule train: error: {shared / 'train-images-idx3-ubyte.gz'}")
    assert "60,000 training + 10,000 test images" in err[0] and len(err) == 2
    assert not out.exists() or not any(out.iterdir())
    assert main([*argv, "--root", str(shared), "--val-size", "50"]) == 0
    assert (out / "model.safetensors").exists()
