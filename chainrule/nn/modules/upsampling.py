"""Upsampling layer: ``Upsample``, the module form of ``F.interpolate``."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd.tensor import Tensor
from chainrule.functional.upsampling import interpolate
from chainrule.nn.modules.module import Module


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
        if self.scale_factor is None:
            return f"size={self.size!r}, mode={self.mode!r}"
        sf = self.scale_factor  # PyTorch keeps it as float(s): scale_factor=2.0
        sf = tuple(float(f) for f in sf) if isinstance(sf, (tuple, list)) else float(sf)
        return f"scale_factor={sf!r}, mode={self.mode!r}"
