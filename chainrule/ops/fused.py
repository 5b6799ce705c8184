"""Ops fused for numerical stability: softmax and log-softmax along an axis."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.base import Op


class Softmax(Op):
    """y = e^(x - max x) / Σ e^(x - max x); dx = y ⊙ (g - Σ g y)."""

    name = "softmax"

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        e = xp.exp(z)
        return e / e.sum(axis=self.axis, keepdims=True)

    def vjp(self, m, g, x, y):
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)

    def jvp(self, t, x, y):
        return y * (t - (t * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Op):
    """y = x - max x - log Σ e^(x - max x); dx = g - e^y Σ g."""

    name = "log_softmax"

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        return z - xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))

    def vjp(self, m, g, x, y):
        return (g - m.exp(y) * g.sum(axis=self.axis, keepdims=True),)

    def jvp(self, t, x, y):
        return t - (xp.exp(y) * t).sum(axis=self.axis, keepdims=True)
