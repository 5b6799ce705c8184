"""The 2-D convolution layer."""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype
from chainrule.functional.conv import _conv2d, pair
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter


class Conv2d(Module):
    """2-D convolution over a batch of images: y = x ⋆ W + b (see ``F.conv2d`` for the math).

    Args:
        in_channels: C, the channels of the input.
        out_channels: O, the number of filters (channels of the output).
        kernel_size: (kh, kw), or one int for a square kernel.
        stride: (sh, sw), or one int.
        padding: (ph, pw) zeros added on each side, or one int.
        bias: whether to learn b.
    Shape:
        x: (N, C, H, W) → y: (N, O, Ho, Wo), Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise.
    Attributes:
        weight: (O, C, kh, kw), PyTorch's layout, drawn from U(-1/√fan_in, 1/√fan_in) with
            fan_in = C·kh·kw (PyTorch's default: Kaiming uniform with a = √5);
        bias: (O,), from the same range.
    Example:
        >>> conv = Conv2d(1, 32, kernel_size=3, padding=1)
        >>> conv(cr.randn(64, 1, 28, 28)).shape
        (64, 32, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Conv2d: {what} must be a positive int, got {n!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        dtype = get_default_dtype()
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: weight and bias from U(-1/√fan_in, 1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        # ``self`` names the layer in errors: its repr is formatted only if one is raised.
        return _conv2d(x, self.weight, self.bias, self.stride, self.padding, self)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s
