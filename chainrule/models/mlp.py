"""A modern multilayer perceptron: 784-256-256-10 with ReLU, trained with cross-entropy and Adam."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from chainrule import nn
from chainrule.autograd.tensor import Tensor


class MLP(nn.Module):
    """Linear layers with ReLU between them; the last layer gives logits.

    Args:
        sizes: features per layer, input first (default [784, 256, 256, 10]).
        dropout: dropout probability after each hidden ReLU (0 disables it).

    Shape:
        x: (N, sizes[0]) -> logits (N, sizes[-1]).
    """

    def __init__(self, sizes: Sequence[int] = (784, 256, 256, 10), dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
