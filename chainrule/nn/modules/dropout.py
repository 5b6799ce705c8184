"""Dropout layers: Dropout (elements), Dropout2d (whole channels)."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional.dropout import dropout, dropout2d
from chainrule.nn.modules.module import Module


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training and scales the rest by 1/(1 - p)
    (inverted dropout); the identity in evaluation mode (``model.eval()``).

    Shape: any → the same. The masks come from the library's generator (``cr.manual_seed``).
    ``inplace=True`` writes the result into the input and returns it, as PyTorch.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.inplace = bool(inplace)  # overwrite the input in training (x.mul_(mask)), as PyTorch

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    """Zeroes whole channels with probability ``p`` in training, scaling the rest by
    1/(1 - p) (see ``F.dropout2d``); the identity in evaluation mode.

    Shape: (N, C, H, W) → the same (a 3-D input is taken as (N, C, L), as PyTorch does).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.inplace = inplace  # accepted, as on the activations; the input is not overwritten

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
