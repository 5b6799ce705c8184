"""Upsampling layer: ``Upsample``, the module form of ``F.interpolate``."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd.tensor import Tensor
from chainrule.functional.upsampling import interpolate
from chainrule.nn.module import Module


class Upsample(Module):
    """Resizes (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor`` (see
    ``F.interpolate`` for the source coordinates of 'nearest', 'linear' and 'bilinear').

    Shape:
        x: (N, C, H, W) → y: (N, C, Ho, Wo), Ho = size[0] or ⌊H · scale_factor⌋.
    Example:
        >>> Upsample(scale_factor=2, mode="bilinear")(cr.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(
            x,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode='{self.mode}'"
