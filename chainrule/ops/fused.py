"""Ops fused for numerical stability: softmax and log-softmax along an axis."""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op


def log_softmax(x, axis: int):
    """x - log Σ e^x along ``axis`` on an array, as (x - max x) - log Σ e^(x - max x): no exponent
    overflows and no log of 0 is taken. The one array-level log-softmax: the ``LogSoftmax`` op,
    the fused cross-entropy and caption decoding all compute it here."""
    return log_softmax_parts(x, axis)[0]


def log_softmax_parts(x, axis: int):
    """(log softmax, e^(x - max x), Σ e^(x - max x)): the ops whose backward needs softmax
    divide e by the sum, one pass, rather than take exp of the result again (NumPy's float32
    exp costs several ordinary passes)."""
    z = x - x.max(axis=axis, keepdims=True)
    e = xp.exp(z)
    s = _sum(e, axis)
    z -= xp.log(s)  # in place: z is ours (one temporary fewer)
    return z, e, s


def rows_summable(axis: int, *arrays) -> bool:
    """Whether ``axis`` is the arrays' last one and einsum takes their dtypes (not bfloat16):
    sums along it then run as einsum's row loop, without the product's temporary."""
    return axis in (-1, arrays[0].ndim - 1) and all(a.dtype in _EINSUM for a in arrays)


_EINSUM = (xp.dtype(xp.float32), xp.dtype(xp.float64))


def _sum(a, axis: int):
    """a summed along ``axis``, kept as a length-1 axis: along the last axis by einsum's row
    loop (3x faster than ``sum`` on rows of a few hundred)."""
    if rows_summable(axis, a):
        return xp.einsum("...i->...", a)[..., None]
    return a.sum(axis=axis, keepdims=True)


class Softmax(Op):
    """y = e^(x - max x) / Σ e^(x - max x); dx = y ⊙ (g - Σ g y)."""

    name = "softmax"
    saves = ("y",)

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        # ArrayMath.softmax's arithmetic, in one buffer: three full-size temporaries fewer.
        e = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(e, out=e)
        e /= _sum(e, self.axis)
        return e

    def vjp(self, m, g, x, y):
        if m is ArrayMath and rows_summable(self.axis, g, y):
            d = g - xp.einsum("...i,...i->...", g, y)[..., None]
            d *= y
            return (d,)
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
        # As log_softmax, keeping softmax = e^(x - max) / Σ for the backward: one division
        # here instead of an exp there (NumPy's float32 exp is the slowest pass of the two).
        z, e, s = log_softmax_parts(x, self.axis)
        e /= s
        self.p = e
        return z

    def vjp(self, m, g, x, y):
        if m is ArrayMath:
            d = self.p * -_sum(g, self.axis)
            d += g
            return (d,)
        return (g - m.exp(y) * g.sum(axis=self.axis, keepdims=True),)

    def jvp(self, t, x, y):
        return t - (xp.exp(y) * t).sum(axis=self.axis, keepdims=True)
