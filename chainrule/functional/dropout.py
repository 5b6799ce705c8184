"""Dropout: random zeroing during training, identity at evaluation."""

from __future__ import annotations

from chainrule import random as _random
from chainrule.autograd.compile_hooks import redrawn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.errors import user_line, warn_user


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
        mask = constant(xp.zeros((), dtype=x.dtype))
    else:
        mask = constant(redrawn(_mask, x.shape, x.dtype, p))
    return x.mul_(mask) if inplace else x * mask


def _mask(shape: tuple[int, ...], dtype: xp.dtype, p: float) -> xp.ndarray:
    """1 / (1 - p) where an element is kept (probability 1 - p), 0 where it is dropped."""
    dt = dtype if dtype in (xp.float32, xp.float64) else xp.dtype(xp.float64)
    keep = _random.generator().random(shape, dtype=dt) >= p
    return keep.astype(dtype) * xp.asarray(1.0 / (1.0 - p), dtype=dtype)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Channel dropout: each whole channel x[n, c] is zeroed with probability ``p`` and the kept
    channels scaled by 1 / (1 - p); the identity when ``training`` is False. Neighbouring pixels
    are correlated, so dropping single pixels barely regularises a CNN (Tompson et al.).

    As PyTorch 2.13: an input that is not 3-D or 4-D is deprecated (a warning) and treated as
    (N, C, *): a 2-D input (N, C) is dropped elementwise, a 5-D one per (n, c); a 3-D input
    is taken as (N, C, L) with a warning (PyTorch may read it as (C, H, W) one day); a 1-D
    input has no channel axis and is refused when something would be dropped.

    Args:
        input: x of shape (N, C, H, W), or (N, C, L).
        p: probability of dropping a channel, in [0, 1].
    Returns:
        x ⊙ mask / (1 - p) with one mask value per (n, c), the shape of x.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be a probability in [0, 1], got {p}")
    x = as_tensor(input)
    _warn_feature_rank(x.ndim)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * constant(xp.zeros((), dtype=x.dtype))
    if x.ndim < 2:
        raise RuntimeError(
            "Feature dropout requires at least 2 dimensions in the input (dropout2d got shape "
            f"{tuple(x.shape)} at {user_line()})"
        )
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return x * constant(redrawn(_mask, shape, x.dtype, p))


def _warn_feature_rank(ndim: int) -> None:
    """PyTorch 2.13's warnings for the input ranks ``dropout2d`` does not expect."""
    if ndim not in (3, 4):
        warn_user(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will "
            "result in an error in a future release. To retain the behavior and silence this "
            "warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs)."
        )
    if ndim == 3:
        warn_user(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead."
        )
