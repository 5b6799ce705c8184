"""``torch.utils.data`` under PyTorch's names and meanings, so that a program's data pipeline
runs unchanged: datasets whose items are Tensors, samplers, ``DataLoader`` with ``collate_fn``,
``sampler``, ``batch_sampler``, ``drop_last``, ``generator`` and the worker arguments,
``default_collate``, ``random_split``, ``Subset``, ``ConcatDataset``, ``IterableDataset``.

chainrule's own trainers use ``chainrule.data``, whose batches are built from whole arrays at
once (faster for the data sets it ships); this module follows PyTorch's item-by-item protocol.

Workers: ``num_workers > 0`` loads in the main process, in the same order, so it gives exactly
the batches of ``num_workers=0`` (no process is started; ``worker_init_fn`` is called with each
worker id at the start of every epoch, as each PyTorch worker would call it once, and
``get_worker_info()`` is None, as in the main process). ``pin_memory`` and the other
performance options are accepted and change nothing.
"""

from __future__ import annotations

import bisect
import collections.abc
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.tensor import Tensor
from chainrule.autograd.tensor_math import stack as _stack
from chainrule.random import Generator, numpy_generator

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
    "TensorDataset", "WeightedRandomSampler", "default_collate", "get_worker_info",
    "random_split",
]  # fmt: skip


# ----- datasets -----
class Dataset:
    """A map-style dataset: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is iterated (``__iter__``) rather than indexed; DataLoader batches it in
    the order it yields."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class TensorDataset(Dataset):
    """Example ``i`` is the tuple ``(t[i] for t in tensors)``: rows of tensors that share their
    first dimension N, as Tensors (views)."""

    def __init__(self, *tensors: Any) -> None:
        tensors = tuple(t if isinstance(t, Tensor) else _tensor(t) for t in tensors)
        sizes = {t.shape[0] for t in tensors}
        if len(sizes) > 1:
            raise ValueError(
                "TensorDataset: the tensors must share their first dimension (N), got shapes "
                + ", ".join(str(tuple(t.shape)) for t in tensors)
            )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after the other: index ``i`` runs through the first, then the next."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

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
    """Non-overlapping random Subsets of the given lengths, or fractions summing to 1 (the
    remainder of the floors is dealt one each to the first splits, as PyTorch does)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset!"
            f" ({sum(lengths)} against {n})"
        )
    order = numpy_generator(generator).permutation(n).tolist()
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, order[start : start + length]))
        start += length
    return out


# ----- samplers -----
class Sampler:
    """Yields dataset indices (or, for a batch sampler, lists of them)."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each epoch (or ``num_samples`` draws with
    replacement), from ``generator`` or the library's seeded generator."""

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng, n = numpy_generator(self.generator), len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        order = np.concatenate([rng.permutation(n) for _ in range(reps)] or [np.zeros(0, int)])
        return iter(order[: self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices, self.generator = list(indices), generator

    def __iter__(self) -> Iterator[int]:
        order = numpy_generator(self.generator).permutation(len(self.indices))
        return iter([self.indices[i] for i in order])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        w = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, np.float64)
        self.p, self.num_samples = w / w.sum(), num_samples
        self.replacement, self.generator = replacement, generator

    def __iter__(self) -> Iterator[int]:
        rng = numpy_generator(self.generator)
        draws = rng.choice(len(self.p), self.num_samples, replace=self.replacement, p=self.p)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler``; the short last one kept unless
    ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----- collation -----
def default_collate(batch: Sequence[Any]) -> Any:
    """PyTorch's ``default_collate``: Tensors and arrays are stacked on a new first dimension;
    floats become a float64 tensor, ints int64 and bools bool; strings stay a list; dicts,
    named tuples and sequences are collated field by field (a sequence gives a list)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and elem.dtype.kind not in "USO":
        return _tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return _tensor(list(batch), dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return _tensor(list(batch), dtype=np.int64)
    if isinstance(elem, float):
        return _tensor(list(batch), dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple keeps its type
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


def default_convert(data: Any) -> Any:
    """What a loader without batching yields: NumPy arrays become Tensors, the rest as is."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return _tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):  # a tuple gives a list, as PyTorch's does
        return [default_convert(v) for v in data]
    return data


def get_worker_info() -> None:
    """None: data is always loaded in the main process here (see the module's docstring)."""
    return None


# ----- the loader -----
def _check_options(
    iterable, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last
) -> None:
    """Refuses the combinations of ``DataLoader`` options that PyTorch refuses, with its
    messages."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to disable "
            f"multiprocessing (got {num_workers!r})"
        )
    if iterable and (shuffle or sampler is not None or batch_sampler is not None):
        raise ValueError(
            "DataLoader with IterableDataset: expected unspecified shuffle, sampler and "
            f"batch_sampler options, got shuffle={shuffle}"
        )
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None and (
        batch_size != 1 or shuffle or sampler is not None or drop_last
    ):
        raise ValueError(
            "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
            "and drop_last"
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
    ):
        raise ValueError(
            f"batch_size should be a positive integer value, but got batch_size={batch_size}"
        )


class DataLoader:
    """Batches of ``dataset``, as ``torch.utils.data.DataLoader``.

    Indices come from ``batch_sampler``, or from ``sampler`` (``RandomSampler`` when
    ``shuffle``, else ``SequentialSampler``) grouped by ``batch_size``; each batch is
    ``collate_fn([dataset[i] for i in indices])`` (``default_collate`` unless given).
    ``batch_size=None`` yields single examples, converted by ``default_convert``. An
    ``IterableDataset`` is batched in the order it yields.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        iterable = isinstance(dataset, IterableDataset)
        _check_options(
            iterable, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last
        )
        self.dataset, self.num_workers, self.drop_last = dataset, num_workers, drop_last
        self.worker_init_fn, self.generator, self.pin_memory = worker_init_fn, generator, pin_memory
        self.batch_size = None if batch_sampler is not None else batch_size
        self._iterable = iterable
        if not iterable:
            if sampler is None:
                sampler = (
                    RandomSampler(dataset, generator=generator)
                    if shuffle
                    else SequentialSampler(dataset)
                )
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if (batch_size is not None or batch_sampler) else None
        self.collate_fn = collate_fn or default_convert

    def __iter__(self) -> Iterator[Any]:
        if self.worker_init_fn is not None:
            for worker_id in range(self.num_workers):
                self.worker_init_fn(worker_id)
        if self._iterable:
            yield from self._iter_iterable()
            return
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def _iter_iterable(self) -> Iterator[Any]:
        if self.batch_size is None:
            for item in self.dataset:
                yield self.collate_fn(item)
            return
        batch: list = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError for a dataset without __len__, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)
