"""Dropout: random zeroing during training, identity at evaluation."""

from __future__ import annotations

import numpy as np

from chainrule import random as _random
from chainrule.autograd import functions as _fn
from chainrule.autograd.function import constant, fresh
from chainrule.autograd.tensor import Tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: each element is zeroed with probability ``p`` and the survivors are
    scaled by 1 / (1 - p), so that the expected value is unchanged; the identity when
    ``training`` is False. The mask is drawn from the library's generator (``cr.manual_seed``).

    Args:
        input: x of any shape.
        p: probability of dropping an element, in [0, 1].
    Returns:
        x ⊙ mask / (1 - p), the shape of x.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    x = _fn._t(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * constant(np.zeros((), dtype=x.dtype))
    return x * constant(fresh(_mask, x.shape, x.dtype, p))


def _mask(shape: tuple[int, ...], dtype: np.dtype, p: float) -> np.ndarray:
    """1 / (1 - p) where an element is kept (probability 1 - p), 0 where it is dropped."""
    dt = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = _random.generator().random(shape, dtype=dt) >= p
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype=dtype)
