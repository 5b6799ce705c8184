"""Caption batches for teacher forcing: images, decoder inputs and targets, in a seeded order.

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

import numpy as np

from chainrule.datasets.vocab import MAX_LEN, Vocabulary


@dataclass
class CaptionBatch:
    """One teacher-forced batch.

    Attributes:
        images: float32 (N, 1, S, S) in [0, 1].
        inputs: int64 (N, T): ``<start>`` then the caption's words (the targets shifted right).
        targets: int64 (N, T): the caption's words, ``<end>``, then ``<pad>``.
        index: int64 (N,), the scenes' indices in the dataset.
    """

    images: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray
    index: np.ndarray


def encode_references(
    captions: list[list[str]], vocab: Vocabulary, max_len: int = MAX_LEN
) -> np.ndarray:
    """Every reference as token ids: int64 (N, R, max_len) (words, ``<end>``, ``<pad>``...).

    Raises ``ValueError`` if scenes have different numbers of references.
    """
    counts = {len(refs) for refs in captions}
    if len(counts) != 1:
        raise ValueError(f"encode_references: every image needs as many references, got {counts}")
    r = counts.pop()
    flat = [c for refs in captions for c in refs]
    return vocab.encode_batch(flat, max_len, truncate=True).reshape(len(captions), r, max_len)


def teacher_forcing(targets: np.ndarray, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) cut to the longest caption: targets (N, T') int → both (N, T).

    ``inputs[:, 0]`` is ``<start>``; ``inputs[:, t] = targets[:, t - 1]``.
    """
    lengths = (targets != vocab.pad_index).sum(axis=1)
    t = int(lengths.max()) if len(lengths) else 1
    targets = targets[:, :t]
    inputs = np.empty_like(targets)
    inputs[:, 0] = vocab.start_index
    inputs[:, 1:] = targets[:, :-1]
    return inputs, targets


class CaptionBatches:
    """Seeded, resumable mini-batches of (image, one reference) pairs.

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
        images: np.ndarray,
        references: np.ndarray,
        vocab: Vocabulary,
        batch_size: int,
        seed: int = 0,
        all_references: bool = False,
    ) -> None:
        if len(images) != len(references):
            raise ValueError(
                f"CaptionBatches: {len(images)} images but {len(references)} reference sets"
            )
        if batch_size < 1:
            raise ValueError(f"CaptionBatches: batch_size must be >= 1, got {batch_size}")
        self.images, self.references, self.vocab = images, references, vocab
        self.batch_size, self.seed, self.all_references = batch_size, seed, all_references

    @property
    def pairs_per_epoch(self) -> int:
        n, r = self.references.shape[:2]
        return n * r if self.all_references else n

    def __len__(self) -> int:
        return -(-self.pairs_per_epoch // self.batch_size)

    def order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(scene index, reference index), each int64 (pairs,), of epoch ``epoch`` (from 0)."""
        n, r = self.references.shape[:2]
        rng = np.random.default_rng([self.seed, epoch])
        if self.all_references:
            perm = rng.permutation(n * r)
            return perm // r, perm % r
        return rng.permutation(n), rng.integers(0, r, size=n)

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[CaptionBatch]:
        """The batches of epoch ``epoch``, from batch ``start_step`` on (to resume mid-epoch)."""
        scenes, refs = self.order(epoch)
        b = self.batch_size
        for s in range(start_step, len(self)):
            idx, ref = scenes[s * b : (s + 1) * b], refs[s * b : (s + 1) * b]
            inputs, targets = teacher_forcing(self.references[idx, ref], self.vocab)
            yield CaptionBatch(self.images[idx], inputs, targets, idx)
