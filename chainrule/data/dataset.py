"""Datasets: indexable collections of examples, and the batch protocol the DataLoader uses.

A ``Dataset`` answers ``len(ds)`` and ``ds[i]`` (one example, usually a tuple of fields such as
``(image, label)``). Building a batch one example at a time costs a Python call per example; a
dataset that holds its fields as whole arrays overrides ``get_batch(indices)`` to slice them all
at once with the index array, which is what keeps an epoch of 60,000 images at batch size 10 from
being dominated by the interpreter.

This module is NumPy only: examples and batches are NumPy arrays here, and the ``DataLoader``
turns batches into Tensors.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ArrayDataset", "Dataset", "Subset", "TensorDataset", "collate"]


def _to_array(x: Any) -> np.ndarray:
    """A NumPy view of ``x``: arrays as they are, chainrule Tensors through ``.numpy()``."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and not isinstance(x, np.generic):
        return np.asarray(x.numpy())
    return np.asarray(x)


def _collate_field(values: Sequence[Any]) -> np.ndarray:
    first = values[0]
    if isinstance(first, bool | np.bool_):
        return np.asarray(values, dtype=np.bool_)
    if isinstance(first, numbers.Integral):
        # Class labels: int64, the dtype cross-entropy expects.
        return np.asarray(values, dtype=np.int64)
    if isinstance(first, float):
        # Python floats follow the library's default float (float32), not NumPy's float64.
        return np.asarray(values, dtype=np.float32)
    return np.stack([_to_array(v) for v in values])


def collate(items: Sequence[Any]) -> Any:
    """Stacks a list of examples into one batch, field by field.

    Examples that are tuples (or lists) give a tuple of arrays, dicts give a dict of arrays, and
    anything else one array. Each field becomes an array with a new leading batch axis N: arrays
    of shape S stack to (N, *S); Python ints become int64 (N,); Python floats float32 (N,).
    """
    if len(items) == 0:
        raise ValueError("collate: expected at least one example, got an empty list")
    first = items[0]
    if isinstance(first, tuple | list):
        return tuple(_collate_field([it[k] for it in items]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate_field([it[k] for it in items]) for k in first}
    return _collate_field(items)


class Dataset:
    """An indexable collection of examples: subclasses define ``__len__`` and ``__getitem__``.

    ``get_batch(indices)`` returns the collated batch of the examples at ``indices``; the default
    calls ``__getitem__`` once per index, and datasets that hold whole arrays override it.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def get_batch(self, indices: np.ndarray) -> Any:
        """The examples at ``indices`` (int array of shape (N,)), stacked by ``collate``."""
        return collate([self[int(i)] for i in indices])


class ArrayDataset(Dataset):
    """A dataset whose fields are whole arrays sharing their first axis N; example ``i`` is
    ``tuple(a[i] for a in arrays)``.

    Batches are taken by indexing every array with the index array at once (one NumPy call per
    field, not one Python call per example).
    """

    def __init__(self, *arrays: np.ndarray) -> None:
        if not arrays:
            raise ValueError(f"{type(self).__name__}: expected at least one array, got none")
        arrays = tuple(_to_array(a) for a in arrays)
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(
                    f"{type(self).__name__}: array {k} is a scalar; expected a leading axis N"
                )
        n = arrays[0].shape[0]
        for k, a in enumerate(arrays):
            if a.shape[0] != n:
                shapes = ", ".join(str(x.shape) for x in arrays)
                raise ValueError(
                    f"{type(self).__name__}: every array needs the same first dimension N.  "
                    f"Expect: arrays[{k}].shape[0] == {n}  Actual: {a.shape[0]} (shapes {shapes})"
                )
        self.arrays: tuple[np.ndarray, ...] = arrays

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``tuple(a[indices] for a in arrays)``: each field of shape (N, ...)."""
        return tuple(a[indices] for a in self.arrays)


class TensorDataset(ArrayDataset):
    """Wraps tensors (or NumPy arrays) that share their first dimension N.

    Example ``i`` is the tuple of row ``i`` of each, as NumPy arrays (unlike PyTorch, whose rows
    are tensors: here the ``DataLoader`` makes the Tensors, one per batch field). The arrays are
    views of the tensors' data, not copies.

    Example::

        ds = TensorDataset(x, y)          # x: (N, D), y: (N,)
        xi, yi = ds[0]                    # xi: (D,), yi: ()
    """

    def __init__(self, *tensors: Any) -> None:
        super().__init__(*tensors)
        self.tensors = tensors


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order; batches still take the fast
    path of the underlying dataset."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ValueError(f"Subset: expected a 1-D index array, got shape {self.indices.shape}")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.dataset.get_batch(self.indices[indices])
