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


_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class PadMode(Op):
    """y = x padded by ``lo`` and ``hi`` entries along ``axis``, read from x itself: ``reflect``
    (mirrored without the edge), ``replicate`` (the edge) or ``circular`` (wrapped); PyTorch's
    modes, which require lo, hi < n for reflect and <= n for circular.

    VJP: the gradient folded back (``PadFold``): the centre, plus each padded entry's gradient
    added to the entry it copies. As a gather by an index array and a scatter-add back it took
    4.5x PyTorch's time; np.pad and a few slice additions are copies of contiguous blocks.
    """

    name = "pad"
    saves = ()

    def __init__(self, axis: int, lo: int, hi: int, mode: str):
        self.axis, self.lo, self.hi, self.mode = axis, lo, hi, mode

    def forward(self, x):
        widths = [(0, 0)] * x.ndim
        widths[self.axis] = (self.lo, self.hi)
        return xp.pad(x, widths, mode=_NUMPY_MODE[self.mode])

    def vjp(self, m, g, x, y):
        fold = PadFold(self.axis, self.lo, self.hi, self.mode)
        return (fold.forward(g) if isinstance(g, xp.ndarray) else m.apply(fold, g),)

    def jvp(self, t, x, y):
        return self.forward(t)


class PadFold(Op):
    """The adjoint of ``PadMode``: from g of the padded shape, the centre with every padded
    entry's value added to the entry it was copied from. Linear; its VJP is ``PadMode``."""

    name = "pad_fold"
    saves = ()

    def __init__(self, axis: int, lo: int, hi: int, mode: str):
        self.axis, self.lo, self.hi, self.mode = axis, lo, hi, mode

    def forward(self, g):
        a, lo, hi = self.axis, self.lo, self.hi
        n = g.shape[a] - lo - hi

        def at(start, stop):
            return (slice(None),) * a + (slice(start, stop),)

        out = g[at(lo, lo + n)].copy()
        left, right = g[at(0, lo)], g[at(lo + n, lo + n + hi)]
        if self.mode == "reflect":  # entry -k copies k, entry n-1+k copies n-1-k
            out[at(1, lo + 1)] += xp.flip(left, a)
            out[at(n - 1 - hi, n - 1)] += xp.flip(right, a)
        elif self.mode == "replicate":
            out[at(0, 1)] += left.sum(axis=a, keepdims=True)
            out[at(n - 1, n)] += right.sum(axis=a, keepdims=True)
        else:  # circular: entry -k copies n-k, entry n-1+k copies k-1
            out[at(n - lo, n)] += left
            out[at(0, hi)] += right
        return out

    def vjp(self, m, g, x, y):
        return (m.apply(PadMode(self.axis, self.lo, self.hi, self.mode), g),)

    def jvp(self, t, x, y):
        return self.forward(t)
