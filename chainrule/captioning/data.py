"""Caption batches for teacher forcing: images, decoder inputs and targets, in a seeded order,
served by the one ``DataLoader`` (``chainrule.utils.data``) over a dataset of (image, reference)
pairs.

Each Fashion Scenes image has five references. An epoch visits every scene once, in a shuffled
order, and pairs it with *one* of its five references drawn at random (both from a generator
seeded by ``(seed, epoch)``). Over epochs every reference is seen; an epoch costs one pass over
the images rather than five, so validation, checkpoints and the learning-rate schedule come five
times as often for the same compute. Because the order is a pure function of (seed, epoch),
resuming mid-epoch is exact: skip the batches already done.

A batch is cut to the longest caption in it (plus ``<end>``), so short captions cost short loops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chainrule.backend import xp
from chainrule.datasets.vocab import MAX_LEN, Vocabulary
from chainrule.utils.data import DataLoader, Dataset, Sampler


@dataclass
class CaptionBatch:
    """One teacher-forced batch.

    Attributes:
        images: float32 (N, 1, S, S) in [0, 1].
        inputs: int64 (N, T): ``<start>`` then the caption's words (the targets shifted right).
        targets: int64 (N, T): the caption's words, ``<end>``, then ``<pad>``.
        index: int64 (N,), the scenes' indices in the dataset.
    """

    images: xp.ndarray
    inputs: xp.ndarray
    targets: xp.ndarray
    index: xp.ndarray


def encode_references(
    captions: list[list[str]], vocab: Vocabulary, max_len: int = MAX_LEN
) -> xp.ndarray:
    """Every reference as token ids: int64 (N, R, max_len) (words, ``<end>``, ``<pad>``...).

    Raises ``ValueError`` if scenes have different numbers of references. No scenes (a split of
    size 0, e.g. ``--val-size 0``) give a (0, 0, max_len) array.
    """
    if not captions:
        return xp.zeros((0, 0, max_len), dtype=xp.int64)
    counts = {len(refs) for refs in captions}
    if len(counts) != 1:
        raise ValueError(f"encode_references: every image needs as many references, got {counts}")
    r = counts.pop()
    flat = [c for refs in captions for c in refs]
    return vocab.encode_batch(flat, max_len, truncate=True).reshape(len(captions), r, max_len)


def teacher_forcing(targets: xp.ndarray, vocab: Vocabulary) -> tuple[xp.ndarray, xp.ndarray]:
    """(inputs, targets) cut to the longest caption: targets (N, T') int → both (N, T).

    ``inputs[:, 0]`` is ``<start>``; ``inputs[:, t] = targets[:, t - 1]``.
    """
    lengths = (targets != vocab.pad_index).sum(axis=1)
    t = int(lengths.max()) if len(lengths) else 1
    targets = targets[:, :t]
    inputs = xp.empty_like(targets)
    inputs[:, 0] = vocab.start_index
    inputs[:, 1:] = targets[:, :-1]
    return inputs, targets


class CaptionPairs(Dataset):
    """Every (image, reference) pair of a captioning split: pair ``k`` is scene ``k // R`` with
    its reference ``k % R`` (N·R pairs).

    Example ``k`` is ``(image float32 (1, S, S), reference int64 (T,))``; ``get_batch(indices)``
    (the fast path ``DataLoader`` takes) is one teacher-forced ``CaptionBatch``, cut to the
    longest caption in it.
    """

    def __init__(self, images: xp.ndarray, references: xp.ndarray, vocab: Vocabulary) -> None:
        if len(images) != len(references):
            raise ValueError(
                f"CaptionPairs: {len(images)} images but {len(references)} reference sets"
            )
        self.images, self.references, self.vocab = images, references, vocab
        self.refs_per_image = int(references.shape[1])

    def __len__(self) -> int:
        return len(self.images) * self.refs_per_image

    def __getitem__(self, index: int) -> tuple[xp.ndarray, xp.ndarray]:
        scene, ref = divmod(int(index), self.refs_per_image)
        return self.images[scene], self.references[scene, ref]

    def get_batch(self, indices: xp.ndarray) -> CaptionBatch:
        """The pairs at ``indices`` (int64 (B,)) as one teacher-forced batch."""
        scenes, refs = xp.divmod(indices, self.refs_per_image)
        inputs, targets = teacher_forcing(self.references[scenes, refs], self.vocab)
        return CaptionBatch(self.images[scenes], inputs, targets, scenes)


class CaptionSampler(Sampler):
    """The pairs of ``CaptionPairs`` an epoch visits, in a seeded order: every scene once, in a
    permutation, each with one of its R references drawn at random (or, with
    ``all_references``, all N·R pairs in a permutation), both from
    ``numpy.random.default_rng([seed, epoch])``. ``indices(epoch)`` is a pure function of the
    seed and the epoch, so a ``DataLoader`` over it resumes exactly (its ``state_dict``).
    """

    def __init__(self, pairs: CaptionPairs, seed: int = 0, all_references: bool = False) -> None:
        self.num_scenes, self.refs_per_image = len(pairs.images), pairs.refs_per_image
        self.seed, self.all_references, self.epoch = int(seed), bool(all_references), 0

    def __len__(self) -> int:
        n, r = self.num_scenes, self.refs_per_image
        return n * r if self.all_references else n

    def indices(self, epoch: int) -> xp.ndarray:
        """The pair indices of ``epoch`` (from 0) in serving order: int64 (len(self),)."""
        n, r = self.num_scenes, self.refs_per_image
        rng = xp.random.default_rng([self.seed, epoch])
        if self.all_references:
            return rng.permutation(n * r)
        scenes = rng.permutation(n)
        return scenes * r + rng.integers(0, r, size=n)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self.epoch).tolist())

    def state_dict(self) -> dict[str, int]:
        """What fixes the order besides the epoch: a loader refuses to resume mid-epoch with
        another seed or another choice of references."""
        return {"seed": self.seed, "all_references": int(self.all_references)}


class CaptionBatches:
    """The captioner's batches: a ``DataLoader`` over ``CaptionPairs`` in ``CaptionSampler``'s
    order (``.loader``, which the trainer checkpoints), with the epoch-by-epoch view the tests
    and tools use.

    Args:
        images: float32 (N, 1, S, S).
        references: int64 (N, R, T) from ``encode_references``.
        vocab: the vocabulary the references were encoded with.
        batch_size: B; the last batch of an epoch may be smaller.
        seed: with the epoch number, fixes the order and the reference drawn for each scene.
        all_references: use all R references of every scene each epoch (N·R pairs) instead of
            one drawn at random.
    """

    def __init__(
        self,
        images: xp.ndarray,
        references: xp.ndarray,
        vocab: Vocabulary,
        batch_size: int,
        seed: int = 0,
        all_references: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"CaptionBatches: batch_size must be >= 1, got {batch_size}")
        pairs = CaptionPairs(images, references, vocab)
        sampler = CaptionSampler(pairs, seed, all_references)
        self.loader = DataLoader(pairs, batch_size=batch_size, sampler=sampler, seed=seed)

    @property
    def pairs_per_epoch(self) -> int:
        return len(self.loader.sampler)

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[CaptionBatch]:
        """The batches of epoch ``epoch``, from batch ``start_step`` on (to resume mid-epoch)."""
        return self.loader.batches(epoch, start_step)
