"""Writing captions with a trained captioner: greedy decoding and beam search.

Both run the decoder one step at a time (``model.step``) under ``cr.no_grad()``, in evaluation
mode, on raw image arrays, and return token ids and, for an attention model, where it looked for
each word. They work with any model that has ``encode``, ``init_state`` and ``step`` (see
``chainrule.models.captioner``).

Example:
    >>> result = beam_search(model, images, vocab, beam_size=3)
    >>> vocab.decode_batch(result.tokens)
"""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.autograd.creation import from_numpy
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import get_default_dtype, xp
from chainrule.datasets.vocab import MAX_LEN, Vocabulary
from chainrule.ops.fused import log_softmax


@dataclass
class Decoded:
    """Decoded captions of N images.

    Attributes:
        tokens: N lists of token ids, each ending before ``<end>`` (``<end>`` not included).
        alphas: N arrays (len(tokens[i]) + 1, L): attention per emitted token, the last row for
            ``<end>``; None for a model without attention.
        scores: float64 (N,), the chosen caption's log-probability (``<end>`` included).
    """

    tokens: list[list[int]]
    alphas: list[xp.ndarray] | None
    scores: xp.ndarray


def _check_images(images: xp.ndarray) -> xp.ndarray:
    images = xp.asarray(images)
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"decoding: expected images (N, 1, H, W), got {images.shape}")
    return images.astype(get_default_dtype(), copy=False)


def _eval_mode(model):
    was = model.training
    model.eval()
    return was


def greedy_decode(model, images: xp.ndarray, vocab: Vocabulary, max_len: int = MAX_LEN) -> Decoded:
    """The most probable next word at every step, until ``<end>`` or ``max_len`` tokens.

    Args:
        model: a captioner (``encode``, ``init_state``, ``step``).
        images: float (N, 1, S, S) in [0, 1].
        vocab: gives ``<start>`` and ``<end>``.
        max_len: the most tokens written per caption, ``<end>`` included.
    """
    images = _check_images(images)
    n = len(images)
    was = _eval_mode(model)
    try:
        with no_grad():
            features = model.encode(from_numpy(images))
            state = model.init_state(features)
            tokens = xp.full(n, vocab.start_index, dtype=xp.int64)
            out = xp.zeros((n, max_len), dtype=xp.int64)
            scores = xp.zeros(n)
            alphas = []
            done = xp.zeros(n, dtype=bool)
            for t in range(max_len):
                logits, state, alpha = model.step(from_numpy(tokens), state, features)
                logp = log_softmax(logits._data, 1)
                tokens = logp.argmax(axis=1)
                scores += xp.where(done, 0.0, logp[xp.arange(n), tokens])
                out[:, t] = tokens
                if alpha is not None:
                    alphas.append(alpha._data)
                done |= tokens == vocab.end_index
                if done.all():
                    break
    finally:
        model.train(was)
    return _collect(out[:, : t + 1], xp.stack(alphas, 1) if alphas else None, scores, vocab)


def beam_search(
    model,
    images: xp.ndarray,
    vocab: Vocabulary,
    beam_size: int = 3,
    max_len: int = MAX_LEN,
) -> Decoded:
    """Beam search: keeps the ``beam_size`` most probable partial captions of each image.

    At each step every live beam is extended by every word, scored by its total log-probability
    Σ_t log p(y_t | y_<t, image), and the best ``beam_size`` extensions are kept (ties broken
    towards the lower beam, then the lower token id, as greedy decoding's argmax does, so that
    ``beam_size=1`` is greedy decoding). A beam that has written ``<end>`` is finished: it
    stays, with its score, as a candidate. The result is the best beam after ``max_len`` steps or
    once all beams are finished. Scores are not length-normalised (every Fashion Scenes
    reference is correct, long or short).

    Args:
        model, images, vocab, max_len: as in ``greedy_decode``.
        beam_size: K >= 1.
    """
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    images = _check_images(images)
    n = len(images)
    was = _eval_mode(model)
    try:
        with no_grad():
            scores, history, att = _run_beams(model, images, vocab, beam_size, max_len)
    finally:
        model.train(was)
    top = scores.argmax(axis=1)  # first maximum: the lower beam on ties
    out = history[xp.arange(n), top]
    alphas = None if att is None else att[xp.arange(n), top]
    return _collect(out, alphas, scores[xp.arange(n), top], vocab)


def _run_beams(model, images: xp.ndarray, vocab: Vocabulary, k: int, max_len: int):
    """Decodes K beams per image until all are finished or ``max_len`` steps: their scores
    (n, K), their tokens (n, K, T) and their attention maps (n, K, T, L), or None."""
    n = len(images)
    end = vocab.end_index
    features = model.encode(from_numpy(images))
    # Every beam of an image looks at the same features: repeat each image K times.
    features = from_numpy(xp.repeat(features._data, k, axis=0))
    state = model.init_state(features)
    tokens = xp.full(n * k, vocab.start_index, dtype=xp.int64)
    # float64 scores: adding a beam's score to log-probabilities then cannot round two
    # different extensions into a tie that greedy decoding would not see.
    scores = xp.full((n, k), -xp.inf)
    scores[:, 0] = 0.0  # all beams start identical: keep one, or K copies would win
    done = xp.zeros((n, k), dtype=bool)
    history = xp.zeros((n, k, 0), dtype=xp.int64)
    att = None
    rows = xp.arange(n)[:, None]
    for _ in range(max_len):
        logits, state, alpha = model.step(from_numpy(tokens), state, features)
        logp = log_softmax(logits._data, 1).astype(xp.float64).reshape(n, k, -1)
        beam, word, scores = _best_extensions(scores, logp, done, end)
        history = xp.concatenate([history[rows, beam], word[:, :, None]], axis=2)
        if alpha is not None:
            a = alpha._data.reshape(n, k, 1, -1)
            att = a if att is None else xp.concatenate([att, a], axis=2)
            att = att[rows, beam]
        done = done[rows, beam] | (word == end)
        flat = (rows * k + beam).reshape(-1)
        state = tuple(s[flat] for s in state)
        tokens = word.reshape(-1)
        if done.all():
            break
    return scores, history, att


def _best_extensions(scores: xp.ndarray, logp: xp.ndarray, done: xp.ndarray, end: int):
    """The K best one-word extensions of each image's beams: from scores (n, K), the next
    word's log-probabilities logp (n, K, V) and the finished beams done (n, K), the beam each
    extends, its word and its new score, each (n, K)."""
    n, k, v = logp.shape
    # A finished beam can only "extend" by <end> again, at no cost: it keeps its score.
    logp[done] = -xp.inf
    logp[done, end] = 0.0
    cand = (scores[:, :, None] + logp).reshape(n, k * v)
    # Stable order: equal scores keep the lower (beam, token) first.
    best = xp.argsort(-cand, axis=1, kind="stable")[:, :k]
    rows = xp.arange(n)[:, None]
    return best // v, best % v, cand[rows, best]


def decode(model, images, vocab: Vocabulary, beam_size: int = 1, max_len: int = MAX_LEN):
    """``greedy_decode`` when ``beam_size == 1``, else ``beam_search``."""
    if beam_size == 1:
        return greedy_decode(model, images, vocab, max_len)
    return beam_search(model, images, vocab, beam_size, max_len)


def _collect(out, alphas, scores, vocab: Vocabulary) -> Decoded:
    tokens, maps = [], [] if alphas is not None else None
    for i, row in enumerate(out.tolist()):
        cut = row.index(vocab.end_index) if vocab.end_index in row else len(row)
        tokens.append(row[:cut])
        if maps is not None:
            maps.append(alphas[i, : cut + 1])
    return Decoded(tokens, maps, xp.asarray(scores, dtype=xp.float64))
