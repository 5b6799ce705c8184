"""``torch.utils.data.sampler``: the orders in which a ``DataLoader`` visits a dataset."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.random import Generator, numpy_generator

__all__ = [
    "BatchSampler", "RandomSampler", "Sampler", "SeededRandomSampler", "SequentialSampler",
    "SubsetRandomSampler", "WeightedRandomSampler",
]  # fmt: skip


def _numpy_rng(generator: Any, where: str) -> xp.random.Generator:
    """The NumPy generator behind a ``generator=`` argument (None: the library's). Anything but
    a ``cr.Generator`` is a TypeError, as PyTorch's "argument 'generator' must be
    torch.Generator", raised, as there, when the draw is made."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"{where}: argument 'generator' must be a chainrule Generator "
            f"(cr.Generator().manual_seed(seed)), not {type(generator).__name__}"
        )
    return numpy_generator(generator)


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

    def indices(self, epoch: int) -> xp.ndarray:
        """The order of every epoch: int64 ``arange(len(data_source))`` (chainrule's protocol
        for orders that a ``DataLoader`` can resume, see ``SeededRandomSampler``)."""
        return xp.arange(len(self.data_source), dtype=xp.int64)


class SeededRandomSampler(Sampler):
    """chainrule's resumable shuffle (``DataLoader(shuffle=True, seed=s)`` uses it): the order
    of epoch ``e`` is the permutation ``numpy.random.default_rng([seed, e]).permutation(N)``.

    It is a pure function of the seed and the epoch number: no generator is consumed, each
    epoch gets a new permutation, and a loader's whole position is (seed, epoch, batches done),
    which its ``state_dict`` stores and restores exactly, mid-epoch included. ``indices(epoch)``
    gives the order of any epoch (int64, shape (N,)); ``iter(sampler)`` serves the epoch set by
    ``set_epoch`` (0 at first), as PyTorch's ``DistributedSampler`` does.
    """

    def __init__(self, data_source: Any, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | xp.integer) or seed < 0:
            raise ValueError(f"SeededRandomSampler: seed must be a non-negative int, got {seed!r}")
        self.data_source, self.seed, self.epoch = data_source, int(seed), 0

    def indices(self, epoch: int) -> xp.ndarray:
        """The example indices of ``epoch``, in serving order: int64 (N,)."""
        return xp.random.default_rng([self.seed, int(epoch)]).permutation(len(self.data_source))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each epoch (or ``num_samples`` draws with
    replacement, made 32 at a time as they are consumed, as PyTorch does, so that a huge
    ``num_samples`` costs nothing up front), from ``generator`` or the library's generator."""

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator
        if not isinstance(replacement, bool):
            raise TypeError(
                f"RandomSampler: replacement should be a boolean value, but got "
                f"replacement={replacement!r}"
            )
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(
                "RandomSampler: num_samples should be a positive integer value, but got "
                f"num_samples={n!r}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng, n = _numpy_rng(self.generator, "RandomSampler"), len(self.data_source)
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from rng.integers(0, n, 32).tolist()
            yield from rng.integers(0, n, self.num_samples % 32).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[: self.num_samples % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices, self.generator = list(indices), generator

    def __iter__(self) -> Iterator[int]:
        rng = _numpy_rng(self.generator, "SubsetRandomSampler")
        order = rng.permutation(len(self.indices))
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
        w = xp.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, xp.float64)
        self.p, self.num_samples = w / w.sum(), num_samples
        self.replacement, self.generator = replacement, generator

    def __iter__(self) -> Iterator[int]:
        rng = _numpy_rng(self.generator, "WeightedRandomSampler")
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
