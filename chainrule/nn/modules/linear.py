"""The fully connected layer Linear, and Identity (``torch.nn.modules.linear``)."""

from __future__ import annotations

import math

from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp
from chainrule.functional.linear import linear
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


class Linear(Module):
    """Fully connected layer: y = x Wᵀ + b.

    Args:
        in_features: D_in, the size of each input sample.
        out_features: D_out, the size of each output sample.
        bias: whether to learn b.
    Shape:
        x: (*, D_in) → y: (*, D_out), e.g. (N, D_in) → (N, D_out).
    Attributes:
        weight: (D_out, D_in), drawn from U(-1/√D_in, 1/√D_in) (PyTorch's default: Kaiming
            uniform with a = √5); bias: (D_out,), from the same range.
    Example:
        >>> fc = Linear(784, 10)
        >>> fc(cr.randn(64, 784)).shape
        (64, 10)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"Linear: {what} must be a non-negative int, got {n!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = get_default_dtype()
        self.weight = Parameter(xp.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: weight and bias from U(-1/√D_in, 1/√D_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name PyTorch gives ``MultiheadAttention.out_proj`` (its repr shows
    it); the same layer, with the same parameters and state-dict keys."""


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x
