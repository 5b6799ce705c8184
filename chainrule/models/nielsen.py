"""Nielsen's network from "Neural Networks and Deep Learning", chapter 1, exactly as the seed code:
sizes [784, 30, 10], sigmoid on every layer, quadratic cost, weights and biases drawn from N(0, 1),
plain SGD with η = 3.0 on mini-batches of 10."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule import nn
from chainrule.autograd.tensor import Tensor
from chainrule.nn import functional as F


class Nielsen(nn.Module):
    """A fully connected sigmoid network.

    Args:
        sizes: neurons per layer, input first (the seed network: [784, 30, 10]).

    Shape:
        x: (N, sizes[0]) -> (N, sizes[-1]) activations in (0, 1).
    """

    def __init__(self, sizes: Sequence[int] = (784, 30, 10)):
        super().__init__()
        self.sizes = list(sizes)
        self.layers = nn.ModuleList(
            [nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        )
        for layer in self.layers:
            # The seed code draws every weight and bias from the standard normal distribution.
            nn.init.normal_(layer.weight, 0.0, 1.0)
            nn.init.normal_(layer.bias, 0.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x).sigmoid()
        return x


def quadratic_cost(output: Tensor, labels: Tensor) -> Tensor:
    """C = 1/N Σ_x ½ ||a(x) - y(x)||², y the one-hot label: the seed code's cost, whose gradient
    averaged over the mini-batch gives exactly its update w ← w - η/m Σ ∇C_x.

    Shape:
        output: (N, K) activations; labels: (N,) int class indices.
    """
    n, k = output.shape
    d = output - F.one_hot(labels, k).astype(output.dtype)
    return (d * d).sum() * (0.5 / n)
