"""Scoring a captioner on a split: decode every image, then BLEU, ROUGE-L, CIDEr-D, (METEOR) and
exact match overall and by number of items, with ``chainrule.metrics.score_captions``."""

from __future__ import annotations

from chainrule.autograd.creation import from_numpy
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import xp
from chainrule.captioning.decoding import decode
from chainrule.captioning.loss import sequence_cross_entropy
from chainrule.datasets.vocab import Vocabulary
from chainrule.metrics.captions import score_captions


def caption_images(
    model, images: xp.ndarray, vocab: Vocabulary, beam_size: int = 3, batch_size: int = 250
) -> list[str]:
    """One caption per image: images float (N, 1, S, S) → N strings."""
    out: list[str] = []
    for i in range(0, len(images), batch_size):
        result = decode(model, images[i : i + batch_size], vocab, beam_size)
        out.extend(vocab.decode(t) for t in result.tokens)
    return out


def exact_match(candidates: list[str], references: list[list[str]]) -> float:
    """The share of candidates equal to one of their image's references."""
    if not candidates:
        return float("nan")
    return sum(c in refs for c, refs in zip(candidates, references, strict=True)) / len(candidates)


def teacher_forced_loss(
    model, images: xp.ndarray, references: xp.ndarray, vocab: Vocabulary, batch_size: int = 500
) -> float:
    """Mean per-token cross-entropy of every reference (all R of each image), in eval mode.

    Args:
        images: float (N, 1, S, S); references: int64 (N, R, T) from ``encode_references``.
    """
    from chainrule.captioning.data import teacher_forcing

    was = model.training
    model.eval()
    total, tokens = 0.0, 0
    try:
        with no_grad():
            for i in range(0, len(images), batch_size):
                x = images[i : i + batch_size]
                refs = references[i : i + batch_size]
                r = refs.shape[1]
                inputs, targets = teacher_forcing(refs.reshape(-1, refs.shape[2]), vocab)
                logits, _ = model(from_numpy(xp.repeat(x, r, axis=0)), from_numpy(inputs))
                n = int((targets != vocab.pad_index).sum())
                total += float(sequence_cross_entropy(logits, targets, vocab.pad_index).item()) * n
                tokens += n
    finally:
        model.train(was)
    return total / max(tokens, 1)


def evaluate_captioner(
    model,
    dataset,
    vocab: Vocabulary,
    beam_size: int = 3,
    meteor: bool | None = None,
    batch_size: int = 250,
) -> tuple[dict[str, float], list[str]]:
    """Decode every image of ``dataset`` (``.images``, ``.captions``, ``.num_items``) and score.

    Returns:
        ``(scores, candidates)``: the ``score_captions`` dict (BLEU-1..4, METEOR where Java runs,
        ROUGE-L, CIDEr-D, exact_match, exact_match_k1..k3) and the N captions written.
    """
    candidates = caption_images(model, dataset.images, vocab, beam_size, batch_size)
    num_items = getattr(dataset, "num_items", None)
    scores = score_captions(candidates, dataset.captions, num_items, meteor=meteor)
    return scores, candidates
