"""Dropout: random zeroing during training, identity at evaluation."""

from __future__ import annotations

import numpy as np

from chainrule import random as _random
from chainrule.autograd.compile_hooks import redrawn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.errors import ShapeError


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: each element is zeroed with probability ``p`` and the survivors are
    scaled by 1 / (1 - p), so that the expected value is unchanged; the identity when
    ``training`` is False. The mask is drawn from the library's generator (``cr.manual_seed``).

    Args:
        input: x of any shape.
        p: probability of dropping an element, in [0, 1].
        inplace: write the result into x (``x.mul_(mask)``) and return x, as PyTorch.
    Returns:
        x ⊙ mask / (1 - p), the shape of x.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    x = as_tensor(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        mask = constant(np.zeros((), dtype=x.dtype))
    else:
        mask = constant(redrawn(_mask, x.shape, x.dtype, p))
    return x.mul_(mask) if inplace else x * mask


def _mask(shape: tuple[int, ...], dtype: np.dtype, p: float) -> np.ndarray:
    """1 / (1 - p) where an element is kept (probability 1 - p), 0 where it is dropped."""
    dt = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    keep = _random.generator().random(shape, dtype=dt) >= p
    return keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype=dtype)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout: each whole channel x[n, c] is zeroed with probability ``p`` and the kept
    channels scaled by 1 / (1 - p); the identity when ``training`` is False. Neighbouring pixels
    are correlated, so dropping single pixels barely regularises a CNN (Tompson et al.).

    Args:
        input: x of shape (N, C, H, W); a 3-D input is taken as (N, C, L), as PyTorch does.
        p: probability of dropping a channel, in [0, 1].
    Returns:
        x ⊙ mask / (1 - p) with one mask value per (n, c), the shape of x.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be a probability in [0, 1], got {p}")
    x = as_tensor(input)
    if x.ndim < 3:
        raise ShapeError(
            f"dropout2d: expected a 4-D input (N, C, H, W) (or 3-D (N, C, L)), got shape {x.shape}"
        )
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * constant(np.zeros((), dtype=x.dtype))
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return x * constant(redrawn(_mask, shape, x.dtype, p))
