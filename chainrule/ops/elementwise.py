"""Elementwise primitives. Binary ops broadcast as NumPy does; their VJPs return gradients of the
broadcast shape and the engine sums them back to each input's shape."""

from __future__ import annotations

import numpy as np

from chainrule.backend import ArrayMath, bfloat16, xp
from chainrule.ops.base import ExplainText, Op, cross_saved, takes_grad


class _Binary(Op):
    explain_elementwise = True

    def error_message(self, xs, exc):
        a, b = xs
        return (
            f"{self.name}: cannot broadcast shapes {tuple(a.shape)} and {tuple(b.shape)} "
            f"(trailing dimensions must be equal or 1)"
        )


class Add(_Binary):
    name = "add"
    saves = ()

    def forward(self, a, b):
        return a + b

    def vjp(self, m, g, a, b, y):
        return g, g

    def jvp(self, ta, tb, a, b, y):
        return ta + tb


class Sub(_Binary):
    name = "sub"
    saves = ()

    def forward(self, a, b):
        return a - b

    def vjp(self, m, g, a, b, y):
        return g, -g

    def jvp(self, ta, tb, a, b, y):
        return ta - tb


class Mul(_Binary):
    name = "mul"
    saved = staticmethod(cross_saved)

    def forward(self, a, b):
        return a * b

    def vjp(self, m, g, a, b, y):
        return (g * b if takes_grad(self, 0, g, b) else None), (
            g * a if takes_grad(self, 1, g, a) else None
        )

    def jvp(self, ta, tb, a, b, y):
        return ta * b + a * tb


class Div(_Binary):
    name = "div"

    def saved(self, needs):
        return (1, "y") if needs[1] else (1,)

    def forward(self, a, b):
        return a / b

    def vjp(self, m, g, a, b, y):
        gb = g / b
        return gb, -gb * y

    def jvp(self, ta, tb, a, b, y):
        return (ta - y * tb) / b


class Pow(_Binary):
    """a ** b with both a tensor; d/da = b a^(b-1), d/db = a^b log a (0 where a == 0, as PyTorch)."""

    name = "pow"

    def forward(self, a, b):
        return a**b

    def vjp(self, m, g, a, b, y):
        return g * b * a ** (b - 1), g * _log_base(m, a, y)

    def jvp(self, ta, tb, a, b, y):
        return ta * b * a ** (b - 1) + tb * _log_base(np, a, y)


def _log_base(m, a, y):
    # y * log(a), with log(0) treated as contributing 0 (0**b is flat in b for b > 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        return m.where(a == 0, 0.0 * y, y * m.log(m.where(a == 0, 1.0 + 0.0 * a, a)))


class PowScalar(Op):
    """x ** p for a constant exponent p: d/dx = p x^(p-1)."""

    name = "pow"
    explain_elementwise = True
    saves = (0,)

    def __init__(self, p: float):
        self.p = p

    def forward(self, x):
        # PyTorch's special exponents as products and roots: np.power is a scalar libm pow
        # here (10 ms per 10^6 float32, against 0.2 ms for a product).
        if self.p == 3 and np.ndim(x) > 0:
            y = x * x
            y *= x
            return y
        if self.p == -0.5 and np.ndim(x) > 0:
            return np.reciprocal(np.sqrt(x))
        return x**self.p

    def vjp(self, m, g, x, y):
        p = self.p
        if p == 2:
            return (g * (2 * x),)
        if m is ArrayMath and np.ndim(x) > 0 and p in (3, 0.5, -1):
            if p == 3:
                d = x * x
                d *= 3
            elif p == 0.5:
                d = np.sqrt(x)
                np.divide(0.5, d, out=d)
            else:
                d = x * x
                np.divide(-1, d, out=d)
            d *= g
            return (d,)
        return (g * (p * x ** (p - 1)),)

    def jvp(self, t, x, y):
        return t * (self.p * x ** (self.p - 1))


class Clone(Op):
    """A copy of x in new storage (PyTorch's ``clone``); the gradient passes unchanged."""

    name = "clone"
    saves = ()

    def forward(self, x):
        return x.copy()

    def vjp(self, m, g, x, y):
        return (g,)

    def jvp(self, t, x, y):
        return t


class Stepwise(Op):
    """A piecewise-constant function (floor, ceil, round, trunc, sign): its gradient is zero
    everywhere it exists, and zero is what PyTorch reports at the steps too."""

    saves = ()  # x's shape only

    def __init__(self, name: str, fn):
        self.name, self.fn = name, fn

    def forward(self, x):
        return self.fn(x)

    def vjp(self, m, g, x, y):
        return (m.zeros(x.shape, like=g),)

    def jvp(self, t, x, y):
        return xp.zeros_like(t)


class Neg(Op):
    name = "neg"
    explain_elementwise = True
    saves = ()

    def forward(self, x):
        return -x

    def vjp(self, m, g, x, y):
        return (-g,)

    def jvp(self, t, x, y):
        return -t


class Exp(Op):
    name = "exp"
    explain = ExplainText(scalar=("exp({x}) = {y}",), prime=("exp'({x})", "{y}"))
    saves = ("y",)

    def forward(self, x):
        return xp.exp(x)

    def vjp(self, m, g, x, y):
        return (g * y,)

    def jvp(self, t, x, y):
        return t * y


class Log(Op):
    name = "log"
    explain = ExplainText(scalar=("1/{x}", "1/{x}"), prime=("log'({x})", "1/{x}"))
    saves = (0,)

    def forward(self, x):
        return xp.log(x)

    def vjp(self, m, g, x, y):
        return (g / x,)

    def jvp(self, t, x, y):
        return t / x


class Sqrt(Op):
    name = "sqrt"
    explain = ExplainText(
        scalar=("1/(2√{x}) = 1/(2{y})", "1/(2 × {y})"), prime=("sqrt'({x})", "1/(2{y})")
    )
    saves = ("y",)

    def forward(self, x):
        return xp.sqrt(x)

    def vjp(self, m, g, x, y):
        return (g / (2 * y),)

    def jvp(self, t, x, y):
        return t / (2 * y)


class Abs(Op):
    """|x|; the gradient at 0 is 0, as in PyTorch."""

    name = "abs"
    explain = ExplainText(scalar=("sign({x})",), prime=("abs'({x})", "sign({x})"))
    saves = (0,)

    def forward(self, x):
        return xp.abs(x)

    def vjp(self, m, g, x, y):
        return (g * m.sign(x),)

    def jvp(self, t, x, y):
        return t * xp.sign(x)


class Sin(Op):
    """sin x; d/dx = cos x."""

    name = "sin"
    explain = ExplainText(scalar=("cos {x}", "cos {x}"), prime=("sin'({x})", "cos {x}"))
    saves = (0,)

    def forward(self, x):
        return xp.sin(x)

    def vjp(self, m, g, x, y):
        return (g * m.apply(Cos(), x),)

    def jvp(self, t, x, y):
        return t * xp.cos(x)


class Cos(Op):
    """cos x; d/dx = −sin x."""

    name = "cos"
    explain = ExplainText(scalar=("−sin {x}", "−sin {x}"), prime=("cos'({x})", "−sin {x}"))
    saves = (0,)

    def forward(self, x):
        return xp.cos(x)

    def vjp(self, m, g, x, y):
        return (-g * m.apply(Sin(), x),)

    def jvp(self, t, x, y):
        return -t * xp.sin(x)


class Tan(Op):
    """tan x = sin x / cos x (NumPy's tan runs scalar here, 4x its sin and cos together);
    d/dx = 1 + tan² x, from the output: as sin/cos the backward pass recomputed both."""

    name = "tan"
    saves = ("y",)

    def forward(self, x):
        y = xp.sin(x)
        y /= xp.cos(x)
        return y

    def vjp(self, m, g, x, y):
        return (g * (y * y + 1),)

    def jvp(self, t, x, y):
        return t * (y * y + 1)


class Tanh(Op):
    name = "tanh"
    explain = ExplainText(scalar=("1 − {y}²", "1 − {y}²"), prime=("tanh'({x})", "1 − {y}²"))
    saves = ("y",)

    def forward(self, x):
        return xp.tanh(x)

    def vjp(self, m, g, x, y):
        return (g * (1 - y * y),)

    def jvp(self, t, x, y):
        return t * (1 - y * y)


def sigmoid_array(x):
    """1 / (1 + e^-x) on an array, in three passes on one buffer. Where e^-x overflows to inf
    the result is 1/inf = 0, the correctly rounded value, so the overflow is not an error (the
    select between e^-|x| forms it replaced cost 5 ms per 10^6 values in np.where)."""
    with np.errstate(over="ignore"):
        e = np.negative(x, out=np.empty(x.shape, x.dtype))  # an array also when 0-d
        np.exp(e, out=e)
    e += 1
    return np.divide(1, e, out=e)  # the same bits as np.reciprocal, which is not vectorised (2x)


class Sigmoid(Op):
    """σ(x) = 1 / (1 + e^-x); σ' = y (1 - y)."""

    name = "sigmoid"
    explain = ExplainText(
        scalar=("{y}(1 − {y})", "{y} × {one_minus_y}"), prime=("σ'({x})", "{y} ⊙ (1 − {y})")
    )
    saves = ("y",)

    def forward(self, x):
        if x.dtype.kind != "f":
            e = xp.exp(-xp.abs(x))  # scalars and exotic dtypes: the select form, no overflow
            r = 1 / (1 + e)
            return xp.where(x >= 0, r, e * r)
        return sigmoid_array(x)

    def vjp(self, m, g, x, y):
        if m is ArrayMath and np.ndim(y) > 0:
            d = np.subtract(1, y, dtype=y.dtype)
            d *= y
            d *= g
            return (d,)
        return (g * (y * (1 - y)),)

    def jvp(self, t, x, y):
        return t * (y * (1 - y))


class Relu(Op):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch."""

    name = "relu"
    explain = ExplainText(prime=("relu'({x})", "1 where {x} > 0, else 0"))
    saves = ("y",)  # y > 0 exactly where x > 0: relu_ then needs no copy of what it overwrites

    def forward(self, x):
        return xp.maximum(x, 0)

    def vjp(self, m, g, x, y):
        return (m.where(y > 0, g, 0),)

    def jvp(self, t, x, y):
        return xp.where(y > 0, t, 0)


class Clip(Op):
    """x limited to [lo, hi] (either may be None); the gradient passes where lo <= x <= hi."""

    name = "clip"
    explain_elementwise = True
    saves = (0,)

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        y = xp.clip(x, self.lo, self.hi)
        if y.dtype != x.dtype and x.dtype == bfloat16:  # NumPy's clip lifts bfloat16 to float32
            return y.astype(x.dtype)
        return y

    def _mask(self, x):
        inside = None
        if self.lo is not None:
            inside = x >= self.lo
        if self.hi is not None:
            upper = x <= self.hi
            inside = upper if inside is None else inside & upper
        return inside

    def vjp(self, m, g, x, y):
        mask = self._mask(x)
        return (g if mask is None else m.where(mask, g, 0),)

    def jvp(self, t, x, y):
        mask = self._mask(x)
        return t if mask is None else xp.where(mask, t, 0)


class Maximum(_Binary):
    """Elementwise max(a, b); at ties each side gets half the gradient, as in PyTorch."""

    name = "maximum"
    saves = (0, 1)

    def forward(self, a, b):
        return xp.maximum(a, b)

    def vjp(self, m, g, a, b, y):
        half = g * 0.5
        tie = m.where(a == b, half, 0)
        return m.where(a > b, g, tie), m.where(b > a, g, tie)

    def jvp(self, ta, tb, a, b, y):
        return xp.where(a > b, ta, xp.where(b > a, tb, (ta + tb) * 0.5))


class Minimum(_Binary):
    """Elementwise min(a, b); at ties each side gets half the gradient, as in PyTorch."""

    name = "minimum"
    saves = (0, 1)

    def forward(self, a, b):
        return xp.minimum(a, b)

    def vjp(self, m, g, a, b, y):
        half = g * 0.5
        tie = m.where(a == b, half, 0)
        return m.where(a < b, g, tie), m.where(b < a, g, tie)

    def jvp(self, ta, tb, a, b, y):
        return xp.where(a < b, ta, xp.where(b < a, tb, (ta + tb) * 0.5))


class Where(Op):
    """cond ? a : b, with a constant boolean ``cond``; each branch gets the gradient where chosen."""

    name = "where"
    saves = ()
    per_call_arrays = ("cond",)  # cr.compile sets it anew at every replay

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return xp.where(self.cond, a, b)

    def vjp(self, m, g, a, b, y):
        return m.where(self.cond, g, 0), m.where(self.cond, 0, g)

    def jvp(self, ta, tb, a, b, y):
        return xp.where(self.cond, ta, tb)

    def error_message(self, xs, exc):
        a, b = xs
        return (
            f"where: cannot broadcast condition {tuple(self.cond.shape)}, "
            f"a {tuple(a.shape)} and b {tuple(b.shape)}"
        )


class Cast(Op):
    """x converted to another dtype; the gradient is converted back."""

    name = "cast"
    saves = ()

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def vjp(self, m, g, x, y):
        return (m.cast(g, x.dtype),)

    def jvp(self, t, x, y):
        return t.astype(self.dtype)
