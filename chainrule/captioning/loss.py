"""Losses of a captioner: masked temporal cross-entropy and doubly stochastic attention."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor, recomputed
from chainrule.backend import xp
from chainrule.errors import ShapeError
from chainrule.functional.loss import cross_entropy


def sequence_cross_entropy(logits: Tensor, targets, pad_index: int = 0) -> Tensor:
    """Mean cross-entropy over every token that is not padding.

        loss = Σ_{n,t: y_nt ≠ pad} -log softmax(x_nt)[y_nt]  /  #{n,t: y_nt ≠ pad}

    Args:
        logits: x, (N, T, V).
        targets: y, int (N, T); ``pad_index`` entries contribute neither loss nor gradient.
        pad_index: the padding token's id.

    Returns:
        A scalar Tensor.
    """
    y = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    if logits.ndim != 3 or y.shape != tuple(logits.shape[:2]):
        raise ShapeError(
            f"sequence_cross_entropy: expected logits (N, T, V) and targets (N, T), got "
            f"{tuple(logits.shape)} and {y.shape}"
        )
    n, t, v = logits.shape
    # (N·T, V) rows: one fused softmax-cross-entropy, with padding ignored by index.
    flat = recomputed(xp.reshape, y, (-1,))  # cr.compile recomputes it at every replay
    return cross_entropy(logits.reshape(n * t, v), flat, ignore_index=pad_index)


def attention_regularizer(alphas: Tensor, targets, pad_index: int = 0) -> Tensor:
    """Doubly stochastic attention (Xu et al. 2015, eq. 14), averaged over images and regions:

        mean_{n,l} (1 - Σ_t α_ntl)²     over the steps t whose target is not padding

    It asks every region to receive, over the whole caption, about one unit of attention, so that
    the decoder looks at every part of the image once. Averaging over the L regions (not summing,
    as the paper writes it) keeps the term on the scale of a per-token cross-entropy.

    Args:
        alphas: α, (N, T, L), each row a distribution over the L regions.
        targets: int (N, T); padded steps are left out of the sum over t.
    """
    y = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    if alphas.ndim != 3 or y.shape != tuple(alphas.shape[:2]):
        raise ShapeError(
            f"attention_regularizer: expected alphas (N, T, L) and targets (N, T), got "
            f"{tuple(alphas.shape)} and {y.shape}"
        )
    mask = recomputed(_step_mask, y, pad_index, alphas.dtype)
    gap = 1.0 - (alphas * mask).sum(axis=1)  # (N, L)
    return (gap * gap).mean()


def _step_mask(y: xp.ndarray, pad_index: int, dtype) -> xp.ndarray:
    """1 for the steps whose target is a word, 0 for padding: (N, T, 1)."""
    return (y != pad_index).astype(dtype)[:, :, None]
