"""Activations fused into one op each: leaky ReLU, SiLU, ELU and softplus.

Written as compositions of where/exp/log they took 3-7x PyTorch's time on 10^6 float32 values
(benchmarks/bench_per_op.py): every piece was a pass over memory with its own backward, and
``np.where`` on a random mask mispredicts a branch per element (5-7 ms per 10^6 here, against
1 ms for the branch-free select below). ``np.expm1`` and ``np.log1p`` run scalar in this NumPy
(14 ms per 10^6, ten times ``np.exp``), so ELU and softplus use ``exp`` as PyTorch's formulas
allow. Each VJP has an array path (in place, on buffers the op owns) and a path on Tensors for
``create_graph=True`` built from differentiable pieces.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.backend import ArrayMath
from chainrule.ops.base import Op
from chainrule.ops.elementwise import Sigmoid, sigmoid_array


def _eps(x: np.ndarray) -> float:
    return float(np.finfo(x.dtype).eps) if x.dtype.kind == "f" else 2.0**-7  # bfloat16: 2^-7


def _buffer(x: np.ndarray) -> np.ndarray:
    """An empty array of x's shape for ``out=``: 0-d too (a ufunc returns a scalar otherwise);
    integer input gives a float buffer, as the composition it replaces promoted."""
    return np.empty(np.shape(x), x.dtype if x.dtype.kind in "fV" else np.float64)


_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def select(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.where(cond, a, b)`` without a branch per element, written into b, which the caller
    owns: (a & M) | (b & ~M) on the bits, M all ones where cond. Exact for every value (NaN,
    infinities, -0). One temporary: each fresh 4 MB buffer costs page faults, which doubled the
    time of a version with two. Same-shape float32/float64 arrays; others go to ``np.where``."""
    bits = _BITS.get(a.dtype) if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) else None
    if bits is None or a.dtype != b.dtype or not a.shape == b.shape == cond.shape or a.size < 4096:
        return np.where(cond, a, b)
    mask = cond.astype(bits)
    np.negative(mask, out=mask)  # True -> all bits set
    out = b.view(bits)
    np.invert(mask, out=mask)
    out &= mask  # b where not cond
    np.invert(mask, out=mask)
    mask &= a.view(bits)  # a where cond
    out |= mask
    return b


class LeakyRelu(Op):
    """y = x where x > 0, else s·x; dy/dx = 1 or s (s at 0, as PyTorch)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float):
        self.s = negative_slope
        # y > 0 exactly where x > 0 when s >= 0: the backward reads y, and leaky_relu_ (which
        # overwrites x) needs no copy, as PyTorch's; a negative slope needs x itself.
        self.saves = ("y",) if negative_slope >= 0 else (0,)

    def _positive(self, x, y):
        return y > 0 if self.s >= 0 else x > 0

    def forward(self, x):
        with np.errstate(invalid="ignore"):  # 0 · ±inf is nan, PyTorch's value below 0, silently
            xs = np.multiply(x, self.s, out=_buffer(x), casting="unsafe")
        if 0 < self.s <= 1:  # max(x, s x) is x for x > 0 and s x below: no select
            return np.maximum(x, xs, out=xs)
        # A slope of 0 takes the select too: there max(+inf, 0 · inf) would be nan, not +inf.
        return select(x > 0, x, xs)

    def vjp(self, m, g, x, y):
        if m is ArrayMath and 0 <= self.s <= 1 and np.ndim(g) > 0:
            # the factor 1 or s as the mask clipped to [s, 1]: exact, no select; the mask cast
            # first, as np.maximum(mask, s) casts it in a buffered loop (0.63 against 0.32 ms)
            pos = self._positive(x, y)
            if g.dtype in _BITS:
                d = pos.astype(g.dtype)
                np.clip(d, g.dtype.type(self.s), g.dtype.type(1), out=d)
            else:
                d = np.maximum(pos, np.asarray(self.s, g.dtype))
            d *= g
            return (d,)
        if m is ArrayMath:
            return (select(self._positive(x, y), g, g * np.asarray(self.s, g.dtype)),)
        return (m.where(self._positive(x, y), g, g * self.s),)

    def jvp(self, t, x, y):
        return np.where(self._positive(x, y), t, t * self.s)


class Silu(Op):
    """y = x σ(x); dy/dx = σ (1 + x (1 - σ)), with σ kept from the forward pass."""

    name = "silu"
    saves = (0,)

    def forward(self, x):
        self.s = sigmoid_array(x)
        return x * self.s

    def _slope(self, x):
        d = np.subtract(1, self.s, out=_buffer(self.s))
        d *= x
        d += 1
        d *= self.s
        return d

    def vjp(self, m, g, x, y):
        if m is ArrayMath:
            d = self._slope(x)
            d *= g
            return (d,)
        s = m.apply(Sigmoid(), x)
        return (g * (s * (x * (1 - s) + 1)),)

    def jvp(self, t, x, y):
        return t * self._slope(x)


class Elu(Op):
    """y = x where x > 0, else α (e^x - 1); dy/dx = 1 or α e^x = y + α (PyTorch's formula)."""

    name = "elu"

    def __init__(self, alpha: float):
        self.alpha = alpha
        # As leaky_relu: y > 0 exactly where x > 0 when α >= 0, so elu_ needs no copy of x.
        self.saves = ("y",) if alpha >= 0 else (0, "y")

    def _positive(self, x, y):
        return y > 0 if self.alpha >= 0 else x > 0

    def forward(self, x):
        e = np.minimum(x, 0, out=_buffer(x))  # e^x only where it is used: no overflow for large x
        np.exp(e, out=e)
        e -= 1
        e *= np.asarray(self.alpha, e.dtype)
        return select(x > 0, x, e)

    def vjp(self, m, g, x, y):
        if m is ArrayMath:
            d = y + np.asarray(self.alpha, y.dtype)
            d *= g
            return (select(self._positive(x, y), g, d),)
        return (m.where(self._positive(x, y), g, g * (y + self.alpha)),)

    def jvp(self, t, x, y):
        return np.where(self._positive(x, y), t, t * (y + self.alpha))


class Softplus(Op):
    """y = log(1 + e^(βx)) / β, and x where βx > threshold (PyTorch's); dy/dx = σ(βx), or 1."""

    name = "softplus"
    saves = (0,)

    def __init__(self, beta: float, threshold: float):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        bx = np.multiply(x, self.beta, out=_buffer(x), casting="unsafe")
        # max(y, x) replaces the select where softplus - x = log(1 + e^-βx) / β is under half an
        # ulp of x beyond the threshold (float32 and the default 20); elsewhere, PyTorch's select.
        use_max = self.beta > 0 and math.exp(-self.threshold) < self.threshold * _eps(x) / 2
        big = None if use_max else bx > self.threshold
        e = np.minimum(bx, self.threshold, out=bx)  # no overflow where x itself is returned
        np.exp(e, out=e)
        self.e = e  # e^(βx): the backward's σ(βx) = e / (1 + e)
        y = np.add(e, 1, out=_buffer(e))
        np.log(y, out=y)
        if self.beta != 1:
            y *= np.asarray(1 / self.beta, y.dtype)
        if use_max:
            return np.maximum(y, x, out=y)
        return select(big, x, y)

    def vjp(self, m, g, x, y):
        big = x * self.beta > self.threshold
        if m is ArrayMath:
            d = np.add(self.e, 1, out=_buffer(self.e))
            np.divide(self.e, d, out=d)  # σ(βx) in (0, 1]: max with the mask sets 1 where big
            np.maximum(d, big, out=d)
            d *= g
            return (d,)
        return (m.where(big, g, g * m.apply(Sigmoid(), x * self.beta)),)

    def jvp(self, t, x, y):
        return np.where(x * self.beta > self.threshold, t, t * (self.e / (self.e + 1)))
