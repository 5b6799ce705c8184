"""``torch.utils.data.dataloader``: ``DataLoader``, and the names PyTorch programs import from
this module (``default_collate``, ``default_convert``, ``get_worker_info``).

The loader follows PyTorch's protocol, with two things of chainrule's that its trainers need:

- the fast array path: a dataset with ``get_batch(indices)`` (``TensorDataset``, the image
  datasets) gives each batch in one indexing call per field, not one ``__getitem__`` per
  example (used with the default ``collate_fn``; the batch is the one ``default_collate``
  would make);
- a resumable order: when the order of an epoch is a pure function of the epoch number (no
  shuffle, ``shuffle=True`` with ``seed=``, or a sampler with ``indices(epoch)`` such as
  ``DistributedSampler``), ``state_dict()`` holds the loader's whole position (seed, epoch,
  batches done) and ``load_state_dict`` continues exactly where it stood, mid-epoch included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from chainrule.autograd.creation import from_numpy as _from_numpy
from chainrule.backend import xp
from chainrule.random import Generator
from chainrule.utils.data._utils.collate import default_collate, default_convert
from chainrule.utils.data.dataset import Dataset, IterableDataset
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SeededRandomSampler,
    SequentialSampler,
    _numpy_rng,
)

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_NUMERIC_KINDS = frozenset("biuf")


def get_worker_info() -> None:
    """None: data is always loaded in the main process here (see the package's docstring)."""
    return None


class _BatchSizeError(TypeError, ValueError):
    """A batch size that is not an int: PyTorch's ValueError, and a TypeError as well (what
    ``chainrule.data.DataLoader`` raised for it)."""


def _check_batch_size(batch_size: Any) -> None:
    if batch_size is None:
        return
    message = f"batch_size should be a positive integer value, but got batch_size={batch_size}"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | xp.integer):
        raise _BatchSizeError(message)
    if batch_size <= 0:
        raise ValueError(message)


def _check_options(
    iterable, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last, seed
) -> None:
    """Refuses the combinations of ``DataLoader`` options that PyTorch refuses, with its
    messages, and a ``seed`` that is not a non-negative int."""
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
        raise ValueError(
            "DataLoader: sampler option is mutually exclusive with shuffle (sampler and "
            "shuffle=True exclude each other: the sampler decides the order); pass shuffle=False"
        )
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
    _check_batch_size(batch_size)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | xp.integer) or seed < 0
    ):
        raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")


def _as_int(value: Any, key: str) -> int:
    # Checkpoints hand values back as 0-d arrays or Tensors as often as Python ints.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"DataLoader.load_state_dict: {key!r} must be an integer, got {value!r}")
    return int(value)


def _to_tensors(batch: Any) -> Any:
    """A ``get_batch`` result as ``default_collate`` gives it: numeric NumPy arrays become
    Tensors (sharing memory), a plain tuple a list, dicts and named tuples keep their kind;
    anything else (strings, a batch object of the dataset's own) as it is."""
    if isinstance(batch, xp.ndarray):
        return _from_numpy(batch) if batch.dtype.kind in _NUMERIC_KINDS else batch
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_tensors(b) for b in batch))
    if isinstance(batch, tuple | list):
        return [_to_tensors(b) for b in batch]
    return batch


class DataLoader:
    """Batches of ``dataset``, as ``torch.utils.data.DataLoader``.

    Indices come from ``batch_sampler``, or from ``sampler`` (``RandomSampler`` when
    ``shuffle``, else ``SequentialSampler``) grouped by ``batch_size``; each batch is
    ``collate_fn([dataset[i] for i in indices])`` (``default_collate`` unless given), or
    ``dataset.get_batch(indices)`` when the dataset has that fast path and ``collate_fn`` is the
    default. ``batch_size=None`` yields single examples, converted by ``default_convert``. An
    ``IterableDataset`` is batched in the order it yields.

    chainrule's keyword ``seed``: with ``shuffle=True``, the order of epoch ``e`` is
    ``numpy.random.default_rng([seed, e]).permutation(N)`` (``SeededRandomSampler``) instead of
    draws from the library's generator, so that ``state_dict`` can resume it.

    Resuming: ``state_dict()`` gives ``{"seed", "epoch", "batches_done", "num_examples",
    "batch_size"}`` (ints; with a sampler that has a ``state_dict``, its dict under
    ``"sampler"``). A new loader over the same data that gets it through ``load_state_dict``
    continues with exactly the batches the old one would have given next. An iteration
    abandoned part-way (a ``break``) counts as a finished epoch: the next ``iter()`` starts the
    next one, as in PyTorch.

    Example::

        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
        for epoch in range(3):
            for xb, yb in loader:       # xb: (32, D) Tensor, yb: (32,) int64 Tensor
                ...
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
        seed: int | None = None,
    ) -> None:
        iterable = isinstance(dataset, IterableDataset)
        _check_options(
            iterable, batch_size, shuffle, sampler, batch_sampler, num_workers, drop_last, seed
        )
        self.dataset, self.num_workers, self.drop_last = dataset, num_workers, bool(drop_last)
        self.worker_init_fn, self.generator, self.pin_memory = worker_init_fn, generator, pin_memory
        self.batch_size = None if batch_sampler is not None else batch_size
        self.shuffle, self.seed = bool(shuffle), None if seed is None else int(seed)
        self._iterable = iterable
        given_batch_sampler = batch_sampler is not None
        if not iterable:
            if sampler is None:
                sampler = _default_sampler(dataset, bool(shuffle), self.seed, generator)
            if batch_sampler is None and batch_size is not None:
                batch_sampler = BatchSampler(sampler, int(batch_size), bool(drop_last))
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if (batch_size is not None or batch_sampler) else None
        self.collate_fn = collate_fn or default_convert
        # The order is a function of the epoch number: the loader slices it and can resume it.
        self._indexed = (
            not iterable
            and not given_batch_sampler
            and self.batch_size is not None
            and hasattr(sampler, "indices")
        )
        self.epoch = 0  # the epoch the running (or next) iteration covers
        self._batches_done = 0  # batches of self.epoch already handed out
        self._resuming = False  # set by load_state_dict: the next iter() continues mid-epoch

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError for a dataset without __len__, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def order(self, epoch: int) -> xp.ndarray:
        """The example indices of ``epoch`` in the order they are served: int64 of shape
        ``(len(sampler),)``; only for a loader whose order is a function of the epoch."""
        if not hasattr(self.sampler, "indices"):
            raise TypeError(_not_resumable("order", self.sampler))
        return xp.asarray(self.sampler.indices(epoch), dtype=xp.int64)

    def __iter__(self) -> Iterator[Any]:
        if self.generator is not None:  # PyTorch draws the workers' base seed from it
            _numpy_rng(self.generator, "DataLoader")
        if self.worker_init_fn is not None:
            for worker_id in range(self.num_workers):
                self.worker_init_fn(worker_id)
        if not self._indexed:
            return self._iter_protocol()
        if self._batches_done and (self._batches_done >= len(self) or not self._resuming):
            # The previous epoch ran out or was abandoned part-way: go on to the next one.
            self.epoch += 1
            self._batches_done = 0
        self._resuming = False
        return self._iterate(self.epoch, self._batches_done)

    def batches(self, epoch: int, start: int = 0) -> Iterator[Any]:
        """The batches of ``epoch`` (from 0) from batch ``start`` on: what ``iter()`` gives
        after a ``load_state_dict`` at that position, and the loader's position follows them
        (so ``state_dict`` says where they stopped). The trainers' loop asks for its epochs so.

        Raises:
            TypeError: this loader's order cannot be resumed (see ``state_dict``).
        """
        if not self._indexed:
            raise TypeError(_not_resumable("batches", self.sampler))
        self.epoch, self._batches_done, self._resuming = int(epoch), int(start), False
        return self._iterate(int(epoch), int(start))

    def _batch(self, indices: Any) -> Any:
        """The batch of the examples at ``indices``: the dataset's fast path or the collate."""
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None and self.collate_fn is default_collate:
            return _to_tensors(get_batch(xp.asarray(indices, dtype=xp.int64)))
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    def _iterate(self, epoch: int, start: int) -> Iterator[Any]:
        order, bs = self.order(epoch), self.batch_size
        for b in range(start, len(self)):
            batch = self._batch(order[b * bs : (b + 1) * bs])
            self._batches_done = b + 1
            yield batch
        self.epoch = epoch + 1
        self._batches_done = 0

    def _iter_protocol(self) -> Iterator[Any]:
        """PyTorch's iteration, for orders drawn afresh (or given) each epoch."""
        if self._iterable:
            yield from self._iter_iterable()
            return
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        for indices in self.batch_sampler:
            yield self._batch(indices)

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

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: ``seed`` (0 when unseeded), ``epoch`` (the epoch under way or
        next) and ``batches_done`` (batches of it already handed out), plus ``num_examples``
        and ``batch_size`` so that a restore onto different data is caught; a sampler's own
        ``state_dict`` under ``"sampler"``.

        Raises:
            TypeError: the order is drawn afresh each epoch (``shuffle=True`` without
                ``seed``, a sampler without ``indices(epoch)``), so no state can resume it.
        """
        if not self._indexed:
            raise TypeError(_not_resumable("state_dict", self.sampler))
        state = {
            "seed": self.seed or 0,
            "epoch": self.epoch,
            "batches_done": self._batches_done,
            "num_examples": len(self.dataset),
            "batch_size": self.batch_size,
        }
        if hasattr(self.sampler, "state_dict"):
            state["sampler"] = self.sampler.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a ``state_dict()``: the next ``iter()`` continues where that loader stood.

        Raises:
            KeyError: ``seed``, ``epoch`` or ``batches_done`` is missing.
            ValueError: the state was taken over a dataset of another length, or mid-epoch with
                another batch size or sampler (either would silently change the order).
            TypeError: this loader's order cannot be resumed (see ``state_dict``).
        """
        if not self._indexed:
            raise TypeError(_not_resumable("load_state_dict", self.sampler))
        seed = _as_int(state["seed"], "seed")
        epoch = _as_int(state["epoch"], "epoch")
        done = _as_int(state["batches_done"], "batches_done")
        _check_same_order(self, state, done)
        if min(seed, epoch, done) < 0:
            raise ValueError(f"DataLoader.load_state_dict: negative value in {dict(state)}")
        if isinstance(self.sampler, SeededRandomSampler):  # the order the state was taken in
            self.sampler.seed = self.seed = seed
        self.epoch, self._batches_done = epoch, done
        self._resuming = True

    def __repr__(self) -> str:
        return (
            f"DataLoader(N={len(self.dataset)}, sampler={type(self.sampler).__name__}, "
            f"batch_size={self.batch_size}, drop_last={self.drop_last}, seed={self.seed}, "
            f"epoch={self.epoch})"
        )


def _default_sampler(dataset, shuffle: bool, seed: int | None, generator) -> Sampler:
    """PyTorch's choice of sampler, and chainrule's seeded shuffle when ``seed`` is given."""
    if not shuffle:
        return SequentialSampler(dataset)
    if seed is not None:
        if generator is not None:
            raise ValueError("DataLoader: seed and generator exclude each other; give one")
        return SeededRandomSampler(dataset, seed)
    return RandomSampler(dataset, generator=generator)


def _not_resumable(what: str, sampler: Any) -> str:
    return (
        f"DataLoader.{what}: this loader's order ({type(sampler).__name__}) is not a function "
        "of the epoch number, so it cannot be resumed; give shuffle=True a seed= (or a sampler "
        "with indices(epoch), such as DistributedSampler)"
    )


def _check_same_order(loader: DataLoader, state: dict[str, Any], done: int) -> None:
    """Refuses a state taken over other data, or mid-epoch with another batch size or sampler."""
    if "num_examples" in state:
        n = _as_int(state["num_examples"], "num_examples")
        if n != len(loader.dataset):
            raise ValueError(
                f"DataLoader.load_state_dict: the state was taken over {n} examples, this "
                f"loader's dataset has {len(loader.dataset)}"
            )
    if done and "batch_size" in state:
        bs = _as_int(state["batch_size"], "batch_size")
        if bs != loader.batch_size:
            raise ValueError(
                f"DataLoader.load_state_dict: the state was taken mid-epoch with batch_size "
                f"{bs}, this loader has batch_size {loader.batch_size}"
            )
    sampler = loader.sampler
    if done and "sampler" in state and hasattr(sampler, "state_dict"):
        if dict(state["sampler"]) != sampler.state_dict():
            raise ValueError(
                f"DataLoader.load_state_dict: the state was taken mid-epoch with sampler "
                f"{dict(state['sampler'])}, this loader's is {sampler.state_dict()}"
            )
