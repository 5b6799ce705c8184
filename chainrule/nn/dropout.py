"""Dropout layer."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional.dropout import dropout
from chainrule.nn.module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training and scales the rest by 1/(1 - p)
    (inverted dropout); the identity in evaluation mode (``model.eval()``).

    Shape: any → the same. The masks come from the library's generator (``cr.manual_seed``).
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
