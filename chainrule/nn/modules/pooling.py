"""Pooling layers: MaxPool1d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional.conv import pair
from chainrule.functional.pooling import adaptive_avg_pool2d, max_pool1d_named, pool2d_named
from chainrule.nn.modules.module import Module
from chainrule.ops.pool import AvgPool2d as _AvgPool2dOp
from chainrule.ops.pool import MaxPool2d as _MaxPool2dOp


class _Pool2d(Module):
    _op = None

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        who = type(self).__name__
        # Kept as given (an int stays an int), as PyTorch does; checked here, once.
        pair(kernel_size, "kernel_size", who, minimum=1)
        if stride is not None:
            pair(stride, "stride", who, minimum=1)
        pair(padding, "padding", who, minimum=0)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        # ``self`` names the layer in errors: its repr is formatted only if one is raised.
        return pool2d_named(self._op, x, self.kernel_size, self.stride, self.padding, self)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The largest value of each window (see ``F.max_pool2d``): each window's gradient goes to
    its first maximum only, as in PyTorch.

    Args:
        kernel_size: (kh, kw), or one int.
        stride: (sh, sw), one int, or None (default) for the kernel size.
        padding: (ph, pw) of -∞ on each side, at most half the kernel.
    Shape:
        x: (N, C, H, W) → y: (N, C, Ho, Wo), Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise.
    Example:
        >>> MaxPool2d(2)(cr.randn(64, 32, 28, 28)).shape
        (64, 32, 14, 14)
    """

    _op = _MaxPool2dOp
    dilation, ceil_mode = 1, False  # PyTorch's defaults, the only ones here (shown in its repr)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """The mean of each window (see ``F.avg_pool2d``), zero padding counted in the mean.

    Args:
        kernel_size: (kh, kw), or one int.
        stride: (sh, sw), one int, or None (default) for the kernel size.
        padding: (ph, pw) zeros on each side, at most half the kernel.
    Shape:
        x: (N, C, H, W) → y: (N, C, Ho, Wo), Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise.
    """

    _op = _AvgPool2dOp


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input's (see
    ``F.adaptive_avg_pool2d`` for PyTorch's bins); ``AdaptiveAvgPool2d(1)`` is global average
    pooling.

    Args:
        output_size: (Ho, Wo), one int for both, or None in a place to keep the input's size.
    Shape:
        x: (N, C, H, W) or (C, H, W) → y: (N, C, Ho, Wo) or (C, Ho, Wo).
    Example:
        >>> AdaptiveAvgPool2d((1, 1))(cr.randn(8, 512, 7, 7)).shape
        (8, 512, 1, 1)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(Module):
    """The largest value of each window along L (see ``F.max_pool1d``).

    Args:
        kernel_size: k.  stride: s, or None (default) for k.  padding: -∞ on each side, ≤ k / 2.
        dilation, return_indices, ceil_mode: PyTorch's; only their defaults are supported.
    Shape:
        x: (N, C, L) or (C, L) → y: (N, C, Lo), Lo = ⌊(L + 2p - k) / s⌋ + 1.
    """

    def __init__(
        self,
        kernel_size: int,
        stride: int | None = None,
        padding: int = 0,
        dilation: int = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Tensor:
        return max_pool1d_named(
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
            self,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )
