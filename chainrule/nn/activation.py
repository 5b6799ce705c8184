"""Activation layers: each wraps the function of the same name in ``cr.nn.functional``."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional import activation as F
from chainrule.nn.module import Module


class ReLU(Module):
    """max(x, 0) elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope`` · x. Shape: any → the same."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^-x) elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh x elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softmax(Module):
    """e^x / Σ e^x along ``dim`` (each slice sums to 1). Shape: any → the same.

    ``dim=None`` follows PyTorch's legacy rule (see ``F.softmax``); give it explicitly, e.g.
    ``Softmax(dim=1)`` for (N, C) scores.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax(x) along ``dim``, computed stably. Shape: any → the same."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
