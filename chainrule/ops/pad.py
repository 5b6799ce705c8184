"""Padding with a constant: values added around an array's edges, and the crop back.

One op rather than a concatenation with constant blocks so that the exported ONNX graph has one
``Pad`` node, whose output follows the input's size along every axis (a concatenated block
would fix the batch size to the example's).
"""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.base import Op
from chainrule.ops.index import GetItem


class PadConstant(Op):
    """y = x with ``widths[d] = (lo, hi)`` copies of ``value`` before and after each axis d.

    VJP: the gradient cropped back to x's place, g[lo_0 : lo_0 + n_0, ...] (a ``GetItem``, so
    that it is differentiable again). JVP: the tangent padded with zeros.
    """

    name = "pad"

    def __init__(self, widths: tuple[tuple[int, int], ...], value: float) -> None:
        self.widths = tuple((int(lo), int(hi)) for lo, hi in widths)
        self.value = value

    def forward(self, x):
        return xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def _crop(self, shape):
        return tuple(slice(lo, lo + n) for (lo, _), n in zip(self.widths, shape))

    def vjp(self, m, g, x, y):
        return (m.apply(GetItem(self._crop(x.shape)), g),)

    def jvp(self, t, x, y):
        return xp.pad(t, self.widths, mode="constant", constant_values=0)
