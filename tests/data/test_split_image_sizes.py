"""Data splits that do not fit each other: training images of another size than the test images
refused naming both files (before training, through the CLI too), a validation size larger
than the training split naming the flag, and a FIFO or folder under a data file's name named
as what it is rather than called missing."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cli_checks import one_line_error

from chainrule.datasets import DatasetFormatError, load_splits, write_idx
from chainrule.datasets import mnist as mnist_module


# ----- splits whose images differ in size -----
@pytest.fixture
def mixed_sizes(tmp_path, monkeypatch):
    """MNIST-format splits: 28x28 training images, 32x32 test images."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "none")])
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    for prefix, n, side in (("train", 60, 28), ("t10k", 20, 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, side, side), dtype=np.uint8))  # fmt: skip
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return root


def test_splits_of_different_image_sizes_are_refused_naming_both_files(mixed_sizes):
    with pytest.raises(DatasetFormatError) as e:
        load_splits("mnist", root=mixed_sizes, val_size=10)
    test_file = os.path.join(mixed_sizes, "t10k-images-idx3-ubyte.gz")
    train_file = os.path.join(mixed_sizes, "train-images-idx3-ubyte.gz")
    assert str(e.value) == (
        f"{test_file}: the test images are 32x32 but the training images ({train_file}) are "
        "28x28; both splits must come from the same data set"
    )


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_cli_train_refuses_mixed_sizes_before_training(mixed_sizes, tmp_path, capsys, model):
    """It used to fail after a whole epoch, at the first test batch, inside ``linear``."""
    out = tmp_path / "out"
    argv = ["train", model, "--data", "mnist", "--root", str(mixed_sizes), "--val-size", "10",
            "--epochs", "1", "--out", str(out)]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert "t10k-images-idx3-ubyte.gz: the test images are 32x32" in msg
    assert not out.exists() or os.listdir(out) == []


def test_a_val_size_larger_than_the_training_split_names_the_flag(
    mixed_sizes, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # the default --out is runs/ here
    argv = ["train", "mlp", "--data", "mnist", "--root", str(mixed_sizes), "--epochs", "1"]
    msg = one_line_error(capsys, argv)
    assert "the training split has 60 rows, too few to hold out val_size=10000" in msg
    assert "--val-size" in msg and "choose 0..59" in msg


@pytest.mark.parametrize("make", ["fifo", "folder"])
def test_a_fifo_or_folder_under_a_data_files_name_is_named_not_called_missing(mixed_sizes, make):
    """A FIFO was skipped as if absent, and the user told the file was "missing"."""
    path = mixed_sizes / "train-images-idx3-ubyte.gz"
    path.unlink()
    os.mkfifo(path) if make == "fifo" else path.mkdir()
    with pytest.raises((IsADirectoryError, ValueError)) as e:
        load_splits("mnist", root=mixed_sizes, val_size=10)
    assert str(e.value).startswith(f"{path}: is a ")
