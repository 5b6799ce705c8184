"""What the MNIST readers check in what they read: labels outside the ten classes are refused
naming the file, and one data set's files under the other's name (MNIST as Fashion-MNIST or
the reverse) are refused by their class counts and digests; through the CLI each is one line."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cli_checks import one_line_error

from chainrule.datasets import DatasetFormatError, DatasetNotFoundError, write_idx
from chainrule.datasets import mnist as mnist_module
from chainrule.datasets.mnist import (
    FASHION_MNIST_LABELS_SHA256,
    MNIST_CLASS_COUNTS,
    load_fashion_mnist,
    load_mnist,
    read_idx_pair,
)

FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def write_pair(directory, labels: np.ndarray, train: bool = False) -> None:
    """An MNIST-format split holding ``labels`` and blank 28x28 images."""
    os.makedirs(directory, exist_ok=True)
    images, labels_name = FILES[train]
    write_idx(os.path.join(directory, images), np.zeros((len(labels), 28, 28), np.uint8))
    write_idx(os.path.join(directory, labels_name), labels.astype(np.uint8))


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-mnist")])
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-fashion")])


# ----- labels out of range -----
@pytest.mark.parametrize("bad", [10, 200, 255])
def test_a_label_outside_the_ten_classes_is_refused_naming_the_file(tmp_path, bad):
    """The issue's label 200 built a 201-class model; now the labels file is named."""
    labels = np.arange(20) % 10
    labels[[3, 17]] = bad
    write_pair(tmp_path, labels)
    images, labels_path = (str(tmp_path / f) for f in FILES[False])
    with pytest.raises(DatasetFormatError) as e:
        read_idx_pair(images, labels_path)
    msg = str(e.value)
    assert msg.startswith(f"{labels_path}: label {bad} (example 3, and 1 more) lies outside 0..9")
    assert "\n" not in msg


def test_labels_inside_the_range_are_read_as_int64(tmp_path):
    write_pair(tmp_path, np.array([0, 9, 5]))
    _, labels = read_idx_pair(*(str(tmp_path / f) for f in FILES[False]))
    assert labels.dtype == np.int64 and labels.tolist() == [0, 9, 5]


def test_cli_train_on_out_of_range_labels_is_one_line(tmp_path, no_system_data, capsys):
    labels = np.arange(30) % 10
    labels[0] = 200
    for train_split in (True, False):
        write_pair(tmp_path / "data", labels, train_split)
    argv = ["train", "mlp", "--data", "mnist", "--root", str(tmp_path / "data"), "--epochs",
            "1", "--out", str(tmp_path / "out")]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert "train-labels-idx1-ubyte.gz: label 200" in msg
    assert not (tmp_path / "out" / "model.safetensors").exists()


# ----- one data set under the other's name -----
def mnist_like_labels(train: bool) -> np.ndarray:
    """Labels with MNIST's class counts, in a shuffled order (not MNIST's own order)."""
    counts = MNIST_CLASS_COUNTS[train]
    labels = np.repeat(np.arange(10), counts)
    return np.random.default_rng(0).permutation(labels)


def test_mnist_class_counts_are_mnists():
    """The constants against the published figures: 60,000 / 10,000 examples, digit 1 the most."""
    assert sum(MNIST_CLASS_COUNTS[True]) == 60_000 and sum(MNIST_CLASS_COUNTS[False]) == 10_000
    assert max(range(10), key=MNIST_CLASS_COUNTS[True].__getitem__) == 1
    assert MNIST_CLASS_COUNTS[False][1] == 1135


def test_fashion_mnist_with_mnists_labels_is_refused(tmp_path, no_system_data):
    """`--data fashion-mnist` with CHAINRULE_DATA holding MNIST trained on MNIST and reported
    Fashion-MNIST; MNIST's class counts give it away."""
    write_pair(tmp_path, mnist_like_labels(False))
    with pytest.raises(DatasetFormatError) as e:
        load_fashion_mnist(train=False, root=tmp_path)
    msg = str(e.value)
    assert msg.startswith(str(tmp_path / FILES[False][1]))
    assert "MNIST's labels, not Fashion-MNIST's" in msg and "--data mnist" in msg


def test_a_balanced_file_that_is_not_fashion_mnist_still_loads_as_either(tmp_path, no_system_data):
    """Only what is known is refused: a test fixture's balanced labels are neither digest."""
    write_pair(tmp_path, np.arange(100) % 10)
    assert len(load_fashion_mnist(train=False, root=tmp_path)[1]) == 100
    assert len(load_mnist(train=False, root=tmp_path)[1]) == 100


def _fashion_installed() -> bool:
    try:
        mnist_module.find_fashion_mnist(False)
    except DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _fashion_installed(), reason="Fashion-MNIST not installed")
@pytest.mark.parametrize("train", [True, False])
def test_the_fashion_digests_are_the_installed_files(train):
    import hashlib

    _, labels = load_fashion_mnist(train=train)
    digest = hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest()
    assert digest == FASHION_MNIST_LABELS_SHA256[train]


@pytest.mark.skipif(not _fashion_installed(), reason="Fashion-MNIST not installed")
def test_mnist_pointing_at_fashion_mnist_is_refused(tmp_path, monkeypatch):
    """The other way round: the real Fashion-MNIST files where MNIST is looked for."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    root = os.path.dirname(mnist_module.find_fashion_mnist(False)[0])
    with pytest.raises(DatasetFormatError, match="Fashion-MNIST's labels, not MNIST's"):
        load_mnist(train=False, root=root)
