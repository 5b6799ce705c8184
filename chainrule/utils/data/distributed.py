"""``torch.utils.data.distributed``: ``DistributedSampler``, this rank's share of a dataset, a new disjoint seeded shard each epoch.

It follows PyTorch's ``torch.utils.data.distributed.DistributedSampler``: every rank draws the
same permutation of the N examples (seeded by ``seed`` and the epoch), then rank r of R takes
positions r, r+R, r+2R, ... of it. So that every rank runs the same number of batches (a rank
with one batch fewer would leave the others waiting in their Allreduce), the permutation is
first made a multiple of R long:

- ``drop_last=False`` (the default): padded with its own first ``R*ceil(N/R) - N`` entries, so
  every example is served at least once per epoch and fewer than R of them twice;
- ``drop_last=True``: cut to ``R*floor(N/R)``, so no example is served twice and fewer than R
  are skipped this epoch (another set of them each epoch).

The permutation is the one ``DataLoader(shuffle=True, seed=seed)`` serves in epoch e (NumPy's
``default_rng([seed, e]).permutation(N)``), so R ranks with per-rank batch B see, batch for
batch, the same examples as one process with batch R·B and the same seed; averaging their
gradients then gives the single process's update.

The default ``num_replicas`` and ``rank`` are the MPI world's: ``chainrule.distributed`` (a
layer above this one) tells this module how to ask for them when it is imported; until then
the world is one process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from chainrule.backend import xp

__all__ = ["DistributedSampler", "set_world"]

# (world_size(), rank()) of the MPI world; chainrule.distributed sets them on import.
_world: tuple[Callable[[], int], Callable[[], int]] = (lambda: 1, lambda: 0)


def set_world(world_size: Callable[[], int], rank: Callable[[], int]) -> None:
    """How to ask the world size and this process's rank (called by chainrule.distributed)."""
    global _world
    _world = (world_size, rank)


class DistributedSampler:
    """The example indices rank ``rank`` of ``num_replicas`` serves in each epoch.

    Args:
        dataset: the dataset (or its length N) shared by all ranks.
        num_replicas: R, the number of ranks (default: ``world_size()``).
        rank: this rank, 0 .. R-1 (default: ``rank()``).
        shuffle: a new seeded permutation each epoch; else dataset order.
        seed: the seed of the permutations; must be the same on every rank.
        drop_last: cut the tail to a multiple of R instead of padding it (see the module doc).

    ``indices(epoch)`` gives this rank's indices, int64 of shape ``(len(sampler),)``;
    ``len(sampler)`` is ``ceil(N/R)`` (or ``floor(N/R)`` with ``drop_last``), the same on every
    rank. Give it to ``DataLoader(dataset, batch_size=B, sampler=sampler)``: the loader asks it
    for the order of each epoch, so no ``set_epoch`` call is needed (it exists for code written
    for PyTorch, and ``iter(sampler)`` serves the epoch it set).

    Example::

        sampler = DistributedSampler(train_set, seed=0)
        loader = DataLoader(train_set, batch_size=64, sampler=sampler)  # per-rank batch
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        n = dataset if isinstance(dataset, int | xp.integer) else len(dataset)
        num_replicas = _world[0]() if num_replicas is None else num_replicas
        rank = _world[1]() if rank is None else rank
        for key, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int | xp.integer):
                raise TypeError(f"DistributedSampler: {key} must be an int, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: rank must be in [0, {num_replicas - 1}], got {rank}"
            )
        if seed < 0:
            raise ValueError(f"DistributedSampler: seed must be >= 0, got {seed}")
        self.num_examples = int(n)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = self.num_examples // self.num_replicas
        else:
            self.num_samples = math.ceil(self.num_examples / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __len__(self) -> int:
        """Examples this rank serves per epoch (the same on every rank)."""
        return self.num_samples

    def indices(self, epoch: int) -> xp.ndarray:
        """This rank's example indices for ``epoch``, in serving order: int64 ``(len(self),)``."""
        n = self.num_examples
        if self.shuffle:
            order = xp.random.default_rng([self.seed, int(epoch)]).permutation(n)
        else:
            order = xp.arange(n, dtype=xp.int64)
        if self.total_size > n:
            # Pad with the permutation's own head (repeated if the dataset is smaller than R).
            order = xp.resize(order, self.total_size) if n else order
        else:
            order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(xp.int64, copy=False)

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch ``iter(sampler)`` serves (PyTorch's protocol; the DataLoader does not
        need it, it asks ``indices(epoch)`` directly)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def state_dict(self) -> dict[str, int]:
        """What fixes the shards across ranks: a DataLoader stores it to refuse resuming
        mid-epoch with another world size or seed (which would serve other examples). The rank
        is left out: every rank resumes from rank 0's checkpoint at the same position."""
        return {
            "num_replicas": self.num_replicas,
            "seed": self.seed,
            "shuffle": int(self.shuffle),
            "drop_last": int(self.drop_last),
        }

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(N={self.num_examples}, rank={self.rank}, "
            f"num_replicas={self.num_replicas}, per_rank={self.num_samples}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})"
        )
