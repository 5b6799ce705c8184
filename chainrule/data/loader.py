"""``DataLoader``: batches of a dataset as Tensors, in a seeded, resumable order.

The order of epoch ``e`` is a permutation drawn by ``numpy.random.default_rng([seed, e])``: a
generator of the loader's own, a pure function of the seed and the epoch number. So two loaders
with the same seed give the same batches, each epoch gets a new permutation, no global random
state is touched, and the whole position of a loader is three integers (seed, epoch, batches
done) that a checkpoint stores and ``load_state_dict`` restores exactly, even mid-epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule
from chainrule.data.dataset import Dataset, collate
from chainrule.random import generator

__all__ = ["DataLoader"]

_NUMERIC_KINDS = frozenset("biuf")


def _draw_seed() -> int:
    """A fresh 63-bit seed (fits int64, so a checkpoint can store it), drawn from the library's
    generator so that ``cr.manual_seed(n)`` makes an unseeded loader repeatable too."""
    return int(generator().integers(0, 2**63 - 1))


def _as_int(value: Any, key: str) -> int:
    # Checkpoints hand values back as 0-d arrays or Tensors as often as Python ints.
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"DataLoader.load_state_dict: {key!r} must be an integer, got {value!r}")
    return int(value)


def _to_tensors(batch: Any) -> Any:
    """Numeric arrays of a batch (tuple, dict or single array) become Tensors; others stay."""
    if isinstance(batch, tuple | list):
        return tuple(_to_tensors(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_tensors(v) for k, v in batch.items()}
    if isinstance(batch, np.ndarray) and batch.dtype.kind in _NUMERIC_KINDS:
        return chainrule.from_numpy(batch)
    return batch


class DataLoader:
    """Iterates over ``dataset`` in batches of ``batch_size`` examples, as Tensors.

    Each batch has the structure of one example with a leading batch axis N added to every
    field: a dataset of ``(image (C, H, W), label)`` gives ``(images (N, C, H, W), labels (N,))``;
    integer labels stay int64. Numeric fields become Tensors (``chainrule.from_numpy``); other
    fields (strings) stay NumPy arrays. Datasets that hold whole arrays (``TensorDataset``, the
    image datasets) are sliced with the batch's index array in one call per field.

    Args:
        dataset: a ``Dataset`` (anything with ``__len__`` and ``__getitem__``; ``get_batch`` is
            used when present).
        batch_size: examples per batch, >= 1.
        shuffle: a new seeded permutation every epoch (every ``iter()``); else dataset order.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: the seed of the shuffling order. None draws one from the library's generator (so
            ``cr.manual_seed`` makes it repeatable); ``.seed`` tells which.
        sampler: where the order comes from instead: an object with ``__len__`` and
            ``indices(epoch)`` (an int array), such as ``cr.distributed.DistributedSampler``
            for this rank's shard, or PyTorch's protocol (``__iter__``, ``set_epoch``). Then
            ``shuffle`` must be False (the sampler shuffles) and an epoch has
            ``len(sampler)`` examples.

    Resuming: ``state_dict()`` gives ``{"seed", "epoch", "batches_done", "num_examples",
    "batch_size"}``, all ints. A new loader over the same data that gets it through
    ``load_state_dict`` continues with exactly the batches the old one would have given next,
    mid-epoch included. An iteration abandoned part-way (a ``break``) counts as a finished
    epoch: the next ``iter()`` starts the next epoch, as in PyTorch.

    Example::

        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
        for epoch in range(3):
            for xb, yb in loader:       # xb: (32, D) Tensor, yb: (32,) int64 Tensor
                ...
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        sampler: Any = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if seed is not None and (not isinstance(seed, int | np.integer) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the "
                             "sampler decides the order); pass shuffle=False")  # fmt: skip
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = _draw_seed() if seed is None else int(seed)
        self.epoch = 0  # the epoch the running (or next) iteration covers
        self._batches_done = 0  # batches of self.epoch already handed out
        self._resuming = False  # set by load_state_dict: the next iter() continues mid-epoch

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of ``epoch`` in the order they are served, int64 (len(dataset),)
        (``(len(sampler),)`` with a sampler)."""
        if self.sampler is not None:
            return _sampler_order(self.sampler, epoch)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        if self._batches_done and (self._batches_done >= len(self) or not self._resuming):
            # The previous epoch ran out or was abandoned part-way: go on to the next one.
            self.epoch += 1
            self._batches_done = 0
        self._resuming = False
        return self._iterate(self.epoch, self._batches_done)

    def _iterate(self, epoch: int, start: int):
        order = self.order(epoch)
        bs = self.batch_size
        get_batch = getattr(self.dataset, "get_batch", None)
        for b in range(start, len(self)):
            idx = order[b * bs : (b + 1) * bs]
            if get_batch is not None:
                batch = get_batch(idx)
            else:
                batch = collate([self.dataset[int(i)] for i in idx])
            self._batches_done = b + 1
            yield _to_tensors(batch)
        self.epoch = epoch + 1
        self._batches_done = 0

    def state_dict(self) -> dict[str, int]:
        """Where the loader is: ``seed``, ``epoch`` (the epoch under way or next), and
        ``batches_done`` (batches of it already handed out), plus ``num_examples`` and
        ``batch_size`` so that a restore onto different data is caught. All Python ints (with
        a sampler that has a ``state_dict``, its dict under ``"sampler"`` as well)."""
        state = {
            "seed": self.seed,
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
        """
        seed = _as_int(state["seed"], "seed")
        epoch = _as_int(state["epoch"], "epoch")
        done = _as_int(state["batches_done"], "batches_done")
        if "num_examples" in state:
            n = _as_int(state["num_examples"], "num_examples")
            if n != len(self.dataset):
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was taken over {n} examples, this "
                    f"loader's dataset has {len(self.dataset)}"
                )
        if done and "batch_size" in state:
            bs = _as_int(state["batch_size"], "batch_size")
            if bs != self.batch_size:
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was taken mid-epoch with batch_size "
                    f"{bs}, this loader has batch_size {self.batch_size}"
                )
        if done and "sampler" in state and hasattr(self.sampler, "state_dict"):
            if dict(state["sampler"]) != self.sampler.state_dict():
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was taken mid-epoch with sampler "
                    f"{dict(state['sampler'])}, this loader's is {self.sampler.state_dict()}"
                )
        if min(seed, epoch, done) < 0:
            raise ValueError(f"DataLoader.load_state_dict: negative value in {dict(state)}")
        self.seed, self.epoch, self._batches_done = seed, epoch, done
        self._resuming = True

    def __repr__(self) -> str:
        return (
            f"DataLoader(N={len(self.dataset)}"
            + (f", sampler={self.sampler!r}" if self.sampler is not None else "")
            + f", batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, "
            f"epoch={self.epoch})"
        )


def _sampler_order(sampler: Any, epoch: int) -> np.ndarray:
    """The order a sampler gives for ``epoch``: ``indices(epoch)``, or PyTorch's protocol."""
    if hasattr(sampler, "indices"):
        return np.asarray(sampler.indices(epoch), dtype=np.int64)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    return np.fromiter(iter(sampler), dtype=np.int64)
