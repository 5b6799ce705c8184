"""Convolution layers: Conv1d, Conv2d, ConvTranspose2d."""

from __future__ import annotations

import math

from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp
from chainrule.functional.conv import (
    conv1d_named,
    conv2d_named,
    conv_transpose2d_named,
    pair,
    single,
)
from chainrule.functional.vector import pad
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


class Conv2d(Module):
    """2-D convolution over a batch of images: y = x ⋆ W + b (see ``F.conv2d`` for the math).

    Args:
        in_channels: C, the channels of the input.
        out_channels: O, the number of filters (channels of the output).
        kernel_size: (kh, kw), or one int for a square kernel.
        stride: (sh, sw), or one int.
        padding: (ph, pw) added on each side, one int, 'valid' or 'same'.
        dilation: (dh, dw), or one int: the spacing between filter taps.
        groups: G, dividing C and O (G = C: a depthwise convolution).
        bias: whether to learn b.
        padding_mode: 'zeros' (default), 'reflect', 'replicate' or 'circular', as in PyTorch.
    Shape:
        x: (N, C, H, W) → y: (N, O, Ho, Wo), Ho = ⌊(H + 2ph - dh·(kh - 1) - 1) / sh⌋ + 1, Wo
        likewise.
    Attributes:
        weight: (O, C / G, kh, kw), PyTorch's layout, drawn from U(-1/√fan_in, 1/√fan_in) with
            fan_in = (C / G)·kh·kw (PyTorch's default: Kaiming uniform with a = √5);
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
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        groups = _check_channels("Conv2d", in_channels, out_channels, groups, padding_mode)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = (
            padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d", minimum=0)
        )
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of ('valid', 'same')"
            )
        if padding == "same" and self.stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        self.dilation = pair(dilation, "dilation", "Conv2d", minimum=1)
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = get_default_dtype()
        shape = (self.out_channels, self.in_channels // groups, *self.kernel_size)
        self.weight = Parameter(xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: weight and bias from U(-1/√fan_in, 1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros" and padding != "valid":
            if padding == "same":  # as PyTorch: the odd one on the right and below
                th, tw = (d * (k - 1) for d, k in zip(self.dilation, self.kernel_size))
                pads = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
            else:
                pads = (padding[1], padding[1], padding[0], padding[0])
            x = pad(as_tensor(x), pads, mode=self.padding_mode)
            padding = (0, 0)
        # ``self`` names the layer in errors: its repr is formatted only if one is raised.
        return conv2d_named(
            x, self.weight, self.bias, self.stride, padding, self, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _check_channels(who: str, c, o, groups, padding_mode: str) -> int:
    """Validates the channel counts, groups and padding mode of a convolution layer; the
    groups as an int."""
    for what, n in (("in_channels", c), ("out_channels", o)):
        if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"{who}: {what} must be a positive int, got {n!r}")
    groups = single(groups, "groups", who, 1)
    if c % groups:
        raise ValueError("in_channels must be divisible by groups")
    if o % groups:
        raise ValueError("out_channels must be divisible by groups")
    if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
        raise ValueError(
            f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], but "
            f"got padding_mode='{padding_mode}'"
        )
    return groups


class Conv1d(Module):
    """1-D convolution over a batch of sequences (see ``F.conv1d`` for the math).

    Args:
        in_channels: C.  out_channels: O.  kernel_size: k (an int or a 1-tuple).
        stride, dilation: ints.  groups: G, dividing C and O.
        padding: an int, 'valid' or 'same'.
        bias: whether to learn b.
        padding_mode: 'zeros' (default), 'reflect', 'replicate' or 'circular', as in PyTorch.
    Shape:
        x: (N, C, L) or (C, L) → y: (N, O, Lo), Lo = ⌊(L + 2p - d·(k - 1) - 1) / s⌋ + 1.
    Attributes:
        weight: (O, C / G, k), from U(-1/√fan_in, 1/√fan_in), fan_in = (C / G)·k (PyTorch's
            default); bias: (O,), from the same range.
    Example:
        >>> Conv1d(16, 33, 3, stride=2)(cr.randn(20, 16, 50)).shape
        (20, 33, 24)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Conv1d: {what} must be a positive int, got {n!r}")
        groups = single(groups, "groups", "Conv1d", 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv1d: in_channels {in_channels} and out_channels {out_channels} must both "
                f"be divisible by groups {groups}"
            )
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                f"Conv1d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
                f"got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = (single(kernel_size, "kernel_size", "Conv1d", 1),)
        self.stride = (single(stride, "stride", "Conv1d", 1),)
        self.padding = (
            padding if isinstance(padding, str) else (single(padding, "padding", "Conv1d", 0),)
        )
        self.dilation = (single(dilation, "dilation", "Conv1d", 1),)
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = get_default_dtype()
        shape = (self.out_channels, self.in_channels // groups, self.kernel_size[0])
        self.weight = Parameter(xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: weight and bias from U(-1/√fan_in, 1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.weight.shape[1] * self.kernel_size[0])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        if self.padding_mode != "zeros" and padding != "valid":
            if padding == "same":  # as PyTorch: the odd one on the right
                total = self.dilation[0] * (self.kernel_size[0] - 1)
                pads = (total // 2, total - total // 2)
            else:
                pads = (padding, padding)
            x = pad(as_tensor(x), pads, mode=self.padding_mode)
            padding = 0
        return conv1d_named(
            x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups, self
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class ConvTranspose2d(Module):
    """2-D transposed convolution, the adjoint of ``Conv2d`` in its input (see
    ``F.conv_transpose2d``): it upsamples, e.g. kernel 4, stride 2, padding 1 doubles H and W.

    Args:
        in_channels: C.  out_channels: O.  kernel_size: (kh, kw) or one int.
        stride, padding, output_padding, dilation: pairs or ints.  groups: G.
        bias: whether to learn b.  padding_mode: only 'zeros', as PyTorch.
    Shape:
        x: (N, C, H, W) or (C, H, W) → y: (N, O, Ho, Wo),
        Ho = (H - 1)·sh - 2ph + dh·(kh - 1) + oph + 1, Wo likewise.
    Attributes:
        weight: (C, O / G, kh, kw), PyTorch's layout, from U(-1/√fan_in, 1/√fan_in) with
            fan_in = (O / G)·kh·kw (PyTorch's computation); bias: (O,), from the same range.
    Example:
        >>> ConvTranspose2d(16, 8, 4, stride=2, padding=1)(cr.randn(2, 16, 7, 7)).shape
        (2, 8, 14, 14)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        who = "ConvTranspose2d"
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"{who}: {what} must be a positive int, got {n!r}")
        groups = single(groups, "groups", who, 1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{who}: in_channels {in_channels} and out_channels {out_channels} must both "
                f"be divisible by groups {groups}"
            )
        if padding_mode != "zeros":
            raise ValueError(f"{who}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", who, minimum=1)
        self.stride = pair(stride, "stride", who, minimum=1)
        self.padding = pair(padding, "padding", who, minimum=0)
        self.output_padding = pair(output_padding, "output_padding", who, minimum=0)
        self.dilation = pair(dilation, "dilation", who, minimum=1)
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = get_default_dtype()
        shape = (self.in_channels, self.out_channels // groups, *self.kernel_size)
        self.weight = Parameter(xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: weight and bias from U(-1/√fan_in, 1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor, output_size: tuple[int, ...] | None = None) -> Tensor:
        if output_size is not None:
            raise NotImplementedError(
                "ConvTranspose2d: output_size= is not supported; pass output_padding instead"
            )
        return conv_transpose2d_named(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
            self,
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        for name, default in (
            ("padding", (0, 0)),
            ("output_padding", (0, 0)),
            ("dilation", (1, 1)),
            ("groups", 1),
        ):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.bias is None:
            s += ", bias=False"
        return s
