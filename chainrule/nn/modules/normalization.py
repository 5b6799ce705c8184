"""Normalisation within each sample: LayerNorm, GroupNorm (``torch.nn.modules.normalization``;
batch normalisation is in ``batchnorm.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError
from chainrule.functional.normalization import group_norm, layer_norm
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

        y = (x - mean) / sqrt(var + eps) * weight + bias

    Args:
        normalized_shape: D, or a trailing shape such as (T, D).
        eps: added to the variance before the square root.
        elementwise_affine: learn ``weight`` (1) and ``bias`` (0) of shape ``normalized_shape``.
        bias: whether the affine transform has a bias.
    Shape:
        x: (*, *normalized_shape); output: the same.
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, (int, xp.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(xp.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalisation over G groups of channels per sample (see ``F.group_norm``); unlike
    batch norm it does not depend on the batch, so train and eval modes compute the same.

    Args:
        num_groups: G, dividing num_channels.  num_channels: C.
        eps: added to the variance before the square root.
        affine: learn a per-channel ``weight`` (1) and ``bias`` (0).
    Shape:
        x: (N, C, *) → the same.
    Example:
        >>> GroupNorm(4, 32)(cr.randn(8, 32, 14, 14)).shape
        (8, 32, 14, 14)
    """

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels {num_channels} must be divisible by num_groups "
                f"{num_groups}"
            )
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        dtype = get_default_dtype()
        if affine:
            self.weight = Parameter(xp.ones(num_channels, dtype=dtype))
            self.bias = Parameter(xp.zeros(num_channels, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(
                f"{self!r}: expected input of shape (N, {self.num_channels}, *), got {x.shape}"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )
