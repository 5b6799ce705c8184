"""Ops fused for numerical stability: softmax and log-softmax along an axis."""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op


def log_softmax(x, axis: int):
    """x - log Σ e^x along ``axis`` on an array, as (x - max x) - log Σ e^(x - max x): no exponent
    overflows and no log of 0 is taken. The one array-level log-softmax: the ``LogSoftmax`` op,
    the fused cross-entropy and caption decoding all compute it here."""
    z = x - x.max(axis=axis, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))


class Softmax(Op):
    """y = e^(x - max x) / Σ e^(x - max x); dx = y ⊙ (g - Σ g y)."""

    name = "softmax"
    saves = ("y",)

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        return ArrayMath.softmax(x, self.axis)  # the array-level softmax VJP rules use too

    def vjp(self, m, g, x, y):
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)

    def jvp(self, t, x, y):
        return y * (t - (t * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Op):
    """y = x - max x - log Σ e^(x - max x); dx = g - e^y Σ g."""

    name = "log_softmax"
    saves = ("y",)

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        return log_softmax(x, self.axis)

    def vjp(self, m, g, x, y):
        return (g - m.exp(y) * g.sum(axis=self.axis, keepdims=True),)

    def jvp(self, t, x, y):
        return t - (xp.exp(y) * t).sum(axis=self.axis, keepdims=True)
