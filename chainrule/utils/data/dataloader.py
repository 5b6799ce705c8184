"""``torch.utils.data.dataloader``: ``DataLoader``, and the names PyTorch programs import from
this module (``default_collate``, ``default_convert``, ``get_worker_info``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from chainrule.random import Generator
from chainrule.utils.data._utils.collate import default_collate, default_convert
from chainrule.utils.data.dataset import Dataset, IterableDataset
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    _numpy_rng,
)

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def get_worker_info() -> None:
    """None: data is always loaded in the main process here (see the package's docstring)."""
    return None


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
    if batch_size is None and batch_sampler is None and drop_last:
        raise ValueError(
            "DataLoader: batch_size=None option disables auto-batching and is mutually "
            "exclusive with drop_last"
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
        if self.generator is not None:  # PyTorch draws the workers' base seed from it
            _numpy_rng(self.generator, "DataLoader")
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
