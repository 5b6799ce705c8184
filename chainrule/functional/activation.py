"""Activation functions with PyTorch's signatures (``dim=``), built on the primitive ops."""

from __future__ import annotations

import numpy as np

from chainrule.autograd import functions as _fn
from chainrule.autograd.tensor import Tensor


def relu(input: Tensor) -> Tensor:
    """max(x, 0) elementwise; the gradient is 1 where x > 0, else 0. Any shape."""
    return _fn.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope`` · x; the gradient is 1 or ``negative_slope``."""
    x = _fn._t(input)
    return _fn.where(x > 0, x, x * negative_slope)


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e^-x) elementwise, finite for any x; σ' = σ (1 - σ). Any shape."""
    return _fn.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """tanh x elementwise; d/dx = 1 - tanh² x. Any shape."""
    return _fn.tanh(input)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """e^x / Σ e^x along ``dim``, stable for large x (the maximum is subtracted first).

    ``dim=None`` picks PyTorch's legacy default: 0 for 0-, 1- and 3-dimensional input, else 1
    (so (N, C) and (N, C, H, W) are normalised over C). Pass ``dim`` to be explicit.
    """
    return _fn.softmax(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - log Σ e^x along ``dim`` (log of ``softmax``, computed without overflow or log 0).

    ``dim=None`` picks the same default as ``softmax``.
    """
    return _fn.log_softmax(input, _softmax_dim(input, dim))


def _softmax_dim(x, dim: int | None) -> int:
    if dim is not None:
        return dim
    return 0 if np.ndim(x.data if isinstance(x, Tensor) else x) in (0, 1, 3) else 1
