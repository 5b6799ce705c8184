"""Reductions over axes (NumPy's ``axis``/``keepdims``)."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.base import Op, keepdims_shape, normalize_axes


class _Reduce(Op):
    def __init__(self, axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims
        self.axes = None  # resolved against the input's ndim in forward

    def _expand(self, g, x):
        """The upstream gradient reshaped so that it broadcasts against the input."""
        return g if self.keepdims else g.reshape(keepdims_shape(x.shape, self.axes))


class Sum(_Reduce):
    name = "sum"

    def forward(self, x):
        self.axes = normalize_axes(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def vjp(self, m, g, x, y):
        return (m.broadcast_to(self._expand(g, x), x.shape),)

    def jvp(self, t, x, y):
        return t.sum(axis=self.axes, keepdims=self.keepdims)


class Max(_Reduce):
    """Largest value along axes. Where several elements tie for the maximum, the gradient is
    shared equally among them (as ``torch.amax``)."""

    name = "max"
    pick = staticmethod(xp.max)

    def forward(self, x):
        self.axes = normalize_axes(self.axis, x.ndim)
        if x.size == 0:
            raise ValueError("cannot take the max or min of an empty tensor")
        return self.pick(x, axis=self.axes, keepdims=self.keepdims)

    def _share(self, x, y):
        yk = y if self.keepdims else y.reshape(keepdims_shape(x.shape, self.axes))
        mask = x == yk
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask, count

    def vjp(self, m, g, x, y):
        mask, count = self._share(x, y)
        return (m.where(mask, self._expand(g, x) / count, 0),)

    def jvp(self, t, x, y):
        mask, count = self._share(x, y)
        return (xp.where(mask, t, 0) / count).sum(axis=self.axes, keepdims=self.keepdims)


class Min(Max):
    name = "min"
    pick = staticmethod(xp.min)
