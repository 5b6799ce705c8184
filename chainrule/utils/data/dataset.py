"""``torch.utils.data.dataset``: map-style and iterable datasets, ``TensorDataset``,
``Subset``, ``ConcatDataset`` and ``random_split``."""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from chainrule.autograd.creation import from_numpy as _from_numpy
from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.random import Generator
from chainrule.utils.data._utils.collate import default_collate
from chainrule.utils.data.sampler import _numpy_rng

__all__ = [
    "ConcatDataset", "Dataset", "IterableDataset", "Subset", "TensorDataset", "random_split",
]  # fmt: skip


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``).

    chainrule's fast path: a dataset that holds its fields as whole arrays may also define
    ``get_batch(indices)`` (an int64 array of shape (B,)), returning the batch that
    ``default_collate`` would make of those examples, built with one indexing call per field;
    ``DataLoader`` (with its default ``collate_fn``) then calls it once per batch instead of
    ``__getitem__`` once per example. NumPy arrays in what it returns become Tensors.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is iterated (``__iter__``) rather than indexed; DataLoader batches it in
    the order it yields."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


def _as_tensor(value: Any) -> Tensor:
    """A Tensor as it is, a NumPy array as a Tensor sharing its memory, anything else copied."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, xp.ndarray):
        return _from_numpy(value)
    return _tensor(value)


def _rows(t: Tensor, indices: xp.ndarray) -> Tensor:
    """Rows ``indices`` of ``t`` in one indexing call (recorded only when ``t`` needs grad, as
    ``default_collate``'s stack of rows would be)."""
    if t.requires_grad:
        return t[indices]
    return _from_numpy(t.numpy()[indices])


class TensorDataset(Dataset):
    """Example ``i`` is the tuple ``(t[i] for t in tensors)``: rows of tensors that share their
    first dimension N, as Tensors (views).

    NumPy arrays are accepted too and wrapped without a copy (``from_numpy``); PyTorch's takes
    tensors only. ``get_batch(indices)`` is chainrule's fast path: the batch that
    ``default_collate`` makes of those examples, a list of Tensors of shape (len(indices), ...),
    taken with one indexing call per tensor instead of one Python call per example.

    Example::

        ds = TensorDataset(x, y)          # x: (N, D), y: (N,)
        xi, yi = ds[0]                    # xi: (D,), yi: ()
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        tensors = tuple(_as_tensor(t) for t in tensors)
        for k, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {k} is a scalar; expected a leading axis N"
                )
        n = tensors[0].shape[0]
        for k, t in enumerate(tensors):
            if t.shape[0] != n:
                shapes = ", ".join(str(tuple(x.shape)) for x in tensors)
                raise ValueError(
                    "TensorDataset: the tensors must share their first dimension N.  "
                    f"Expect: arrays[{k}].shape[0] == {n}  Actual: {t.shape[0]} (shapes {shapes})"
                )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: xp.ndarray) -> list[Tensor]:
        """``[t[indices] for t in tensors]``: each of shape (len(indices), ...)."""
        indices = xp.asarray(indices, dtype=xp.int64)
        return [_rows(t, indices) for t in self.tensors]


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order; ``get_batch`` takes the
    underlying dataset's fast path when it has one."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: xp.ndarray) -> Any:
        """The batch of the examples at ``indices`` (positions in this subset)."""
        picked = xp.asarray(self.indices, dtype=xp.int64)[xp.asarray(indices, dtype=xp.int64)]
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            return get_batch(picked)
        return default_collate([self.dataset[int(i)] for i in picked])


class ConcatDataset(Dataset):
    """Datasets one after the other: index ``i`` runs through the first, then the next."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(xp.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if k == 0 else int(self.cumulative_sizes[k - 1])
        return self.datasets[k][index - start]


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None
) -> list[Subset]:
    """Non-overlapping random Subsets of the given lengths, or of fractions that sum to 1, each
    in [0, 1] (the remainder of the floors is dealt one each to the first splits, and an empty
    split warns, as PyTorch does)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
            counts.append(math.floor(n * frac))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    UserWarning,
                    stacklevel=2,
                )
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset!"
            f" ({sum(lengths)} against {n})"
        )
    order = _numpy_rng(generator, "random_split").permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start : start + length]))
        start += length
    return out
