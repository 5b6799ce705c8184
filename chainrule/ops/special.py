"""Special functions as primitive ops: ``erf``, and the exact GELU fused around it.

NumPy has no erf, and ``math.erf`` once per element cost a GELU 100x PyTorch's time (issue 26).
``erf_array`` is vectorised and as accurate as the dtype:

* float64: piecewise Chebyshev series, erf(x)/x in x² on |x| < 1 and the scaled complement
  e^(x²) erfc(x) on [1, 3) and [3, 6); erf is ±1 to double precision beyond 6. Fitted (least
  squares on 6,000 Chebyshev nodes, degrees 11, 20, 16) to 40-digit mpmath values; the error is
  at most 4 ulp (tests/ops/test_special.py compares with ``math.erf`` on a dense grid).
* float32 (float16 and bfloat16 through it): one rational function x P(x²) / Q(x²) (degrees 6
  and 5 in x²) on |x| <= 4, where float32's erf reaches 1 (clamped at 4.4), fitted to relative error 2.5e-9
  (iterated weighted least squares, as above). Evaluated in float32, its rounding errors make it
  at most 7 float32 ulp off (absolute error under 4e-7; PyTorch's float32 erf: 0.71 ulp).
  Evaluating in float64 gives 0.54 ulp but took twice the time, and GELU is the op that needs
  the speed (issue 26: 100x PyTorch's time with ``math.erf``).
* float32 GELU does without erf: Φ(-|x|) = φ(x) M(|x|), the Mills ratio M a rational function,
  so the forward pass's exp gives the backward pass its φ (``_gelu_float32``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import chebyshev as cheb

from chainrule.backend import ArrayMath, kind
from chainrule.ops.base import ExplainText, Op

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# float64: erf(x)/x = A(2x² - 1) on |x| < 1 (Chebyshev coefficients in the mapped variable).
_A = (0.9754769393826539, -0.14226120510371368, 0.010035582187599828, -0.000576876469976707,
      2.7419931252183223e-05, -1.1043175507350832e-06, 3.848875539114339e-08,
      -1.180858223630122e-09, 3.233422097915574e-11, -7.990621222541647e-13,
      1.7967156465314224e-14, -3.587755747247989e-16)  # fmt: skip
# e^(x²) erfc(x) = B1(x - 2) on [1, 3) and B2((x - 4.5) / 1.5) on [3, 6).
_B1 = (0.2785389365977923, -0.11964641832736303, 0.02392588774648557, -0.004503974067265827,
       0.0008045451692535589, -0.00013720361484012407, 2.2444582753712586e-05,
       -3.5355728652023263e-06, 5.380083091108021e-07, -7.92969488611669e-08,
       1.1346142342281238e-08, -1.5791182444764947e-09, 2.141396633014282e-10,
       -2.833657308802e-11, 3.663905926339471e-12, -4.634527398765297e-13,
       5.738899363863057e-14, -6.946462681253594e-15, 8.189001818577332e-16,
       -6.8917342037532e-17)  # fmt: skip
_B2 = (0.12902689965474173, -0.04204267813951179, 0.006698487121092774, -0.0010450916791743732,
       0.0001598589988494872, -2.3998261587227925e-05, 3.5390641050661586e-06,
       -5.131303200564358e-07, 7.320268612037918e-08, -1.0282193131051607e-08,
       1.422908876222584e-09, -1.9411156402715328e-10, 2.6117959914160348e-11,
       -3.4677941389737403e-12, 4.54566948529342e-13, -5.884291164120179e-14,
       7.528631000672183e-15)  # fmt: skip
# float32: erf(x) = x P(x²) / Q(x²) on |x| <= 4 (monomial coefficients, lowest first).
_P = (1.1283791699574421, 0.18505351494571906, 0.0543693924206908, 0.003853090832724377,
      0.00038265604269269973, 4.768405015588561e-06, -1.3618908217971917e-08)  # fmt: skip
_Q = (1.0, 0.4973328389781813, 0.11396060979080416, 0.0154793825267765, 0.0013124131455458632,
      6.390792800278147e-05)  # fmt: skip
_ONE32 = (np.float32(-1.0), np.float32(1.0))
_P32 = tuple(np.float32(c) for c in _P)
_Q32 = tuple(np.float32(c) for c in _Q)
# Past 4.4 the float32 rational rounds to 1 or just above it, so clamping there and clipping
# the result to [-1, 1] gives erf(±inf) = ±1 exactly (clamping at 4 gave 0.99999994).
_F32_CLAMP = (np.float32(-4.4), np.float32(4.4))


# float32 GELU: Φ(-u) = φ(u) M(u) for u = |x| >= 0, M the Mills ratio, fitted as P(u) / Q(u)
# (monic, degrees 4 and 5, positive coefficients) to relative error 1.7e-8 on [0, 15] (past 14.4
# φ underflows to 0 in float32), and evaluated as the same function's continued fraction
# M = 1 / S0, S_k = u + d_k + a_(k+1) / S_(k+1), S4 = u + d4: 14 passes where Horner's rule for P
# and Q took 18 (float32 error 2.7e-7 against 4.7e-7). Every S_k keeps its sign on u >= 0, and
# u = inf gives S0 = inf and M = 0: no clamp.
_CF_D = tuple(np.float32(c) for c in (9.31822455534359e-05, -0.129495452661466, 5.313014004195576,
                                      -1.2242393204875828, 5.393490938686505))  # fmt: skip
_CF_A = tuple(np.float32(c) for c in (0.0, 0.9948206665225185, 3.9742127689679907,
                                      -12.777904878062692, 35.013713914429225))  # fmt: skip
_SIGN_BIT = np.int32(-(2**31))


def _gelu_float32(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x Φ(x), Φ(x), φ(x)) of a float32 array of 1 or more dimensions, in 24 passes and one
    exp. Through the Mills ratio φ(x) comes from the forward pass, where the erf rational left
    the backward one an exp of its own: GELU's passes went from 38 to 27, fewer buffers."""
    u = np.abs(x)
    with np.errstate(over="ignore"):
        pdf = np.multiply(u, u)  # inf past 1.8e19, where φ is 0 all the same
    pdf *= np.float32(-0.5)
    np.exp(pdf, out=pdf)
    pdf *= np.float32(_INV_SQRT_2PI)
    c = np.add(u, _CF_D[4])
    for k in (3, 2, 1, 0):
        np.divide(_CF_A[k + 1], c, out=c)
        c += u
        c += _CF_D[k]
    np.divide(pdf, c, out=c)  # Φ(-|x|); Φ(x) = 1/2 ± (1/2 - Φ(-|x|)), flipped by x's sign bit
    np.subtract(np.float32(0.5), c, out=c)  # (so Φ(±0) = 1/2; np.copysign is 3x slower)
    sign = np.bitwise_and(x.view(np.int32), _SIGN_BIT, out=u.view(np.int32))
    np.bitwise_xor(c.view(np.int32), sign, out=c.view(np.int32))
    c += np.float32(0.5)
    return np.multiply(x, c, out=u), c, pdf


def _erf64(x: np.ndarray) -> np.ndarray:
    """erf of a float64 array, elementwise, to within 2 ulp."""
    out = np.array(x, dtype=np.float64, copy=True)  # NaN stays NaN
    a = np.abs(out)
    small = a < 1.0
    if small.any():
        xs = out[small]
        out[small] = xs * cheb.chebval(2.0 * xs * xs - 1.0, _A)
    for lo, hi, centre, half, coefs in ((1.0, 3.0, 2.0, 1.0, _B1), (3.0, 6.0, 4.5, 1.5, _B2)):
        sel = (a >= lo) & (a < hi)
        if sel.any():
            s = a[sel]
            erfc = np.exp(-s * s) * cheb.chebval((s - centre) / half, coefs)
            out[sel] = np.copysign(1.0 - erfc, out[sel])
    big = a >= 6.0
    out[big] = np.copysign(1.0, out[big])
    return out


def _erf_float32(x: np.ndarray, scale: float) -> np.ndarray:
    """erf(scale * x) of a float32 array, by whole-array passes updated in place (NumPy's
    per-call cost made cache-sized blocks slower, measured)."""
    z = np.multiply(x, np.float32(scale), dtype=np.float32)
    np.clip(z, _F32_CLAMP[0], _F32_CLAMP[1], out=z)  # erf is ±1 in float32 past 3.9; NaN stays
    t = z * z
    q = t * _Q32[-1]
    for c in _Q32[-2:0:-1]:
        q += c
        q *= t
    q += _Q32[0]
    z /= q  # x / Q(x²), then times P(x²) by Horner's rule in the same buffer
    np.multiply(t, _P32[-1], out=q)
    for c in _P32[-2:0:-1]:
        q += c
        q *= t
    q += _P32[0]
    z *= q
    return np.clip(z, _ONE32[0], _ONE32[1], out=z)


def erf_array(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """erf(scale · x) elementwise, any shape; float dtypes kept, others computed as float64."""
    x = np.asarray(x)
    if x.ndim == 0:  # NumPy gives scalars, not arrays, for 0-d results: the passes need arrays
        return erf_array(x.reshape(1), scale).reshape(())
    if kind(x.dtype) != "f":
        x = x.astype(np.float64)
    if x.dtype == np.float64:
        return _erf64(x * scale if scale != 1.0 else x)
    if x.dtype == np.float32:
        return _erf_float32(x, scale)
    return _erf_float32(x.astype(np.float32), scale).astype(x.dtype)  # float16, bfloat16


class Erf(Op):
    """erf x = 2/√π ∫₀ˣ e^(-t²) dt elementwise; d/dx = 2/√π · e^(-x²)."""

    name = "erf"
    explain_elementwise = False  # (its local derivative is shown only on scalar nodes)
    explain = ExplainText(prime=("erf'({x})", "2/√π · exp(−{x}²)"))

    def forward(self, x):
        return erf_array(x)

    def vjp(self, m, g, x, y):
        return (g * (m.exp(-(x * x)) * _TWO_OVER_SQRT_PI),)

    def jvp(self, t, x, y):
        return t * (np.exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Gelu(Op):
    """Exact GELU, y = x Φ(x) with Φ(x) = (1 + erf(x/√2)) / 2; dy/dx = Φ(x) + x φ(x), φ the
    standard normal density. One op instead of five: Φ is kept from the forward pass for the
    backward one (recomputed differentiably when the backward pass is itself recorded)."""

    name = "gelu"
    saves = (0,)

    def forward(self, x):
        self.pdf = None
        if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim > 0:
            y, self.cdf, self.pdf = _gelu_float32(x)
            return y
        cdf = erf_array(x, _INV_SQRT2)
        cdf += 1
        cdf *= 0.5
        self.cdf = cdf
        return x * cdf

    def _slope(self, x):
        """Φ(x) + x φ(x) on arrays, one buffer updated in place."""
        if self.pdf is not None:  # φ kept by the float32 forward pass
            s = np.multiply(x, self.pdf)
            s += self.cdf
            return s
        s = np.multiply(x, x, out=np.empty(x.shape, x.dtype))  # an array also when 0-d
        s *= -0.5
        np.exp(s, out=s)
        s *= x
        s *= np.asarray(_INV_SQRT_2PI, s.dtype)
        s += self.cdf
        return s

    def vjp(self, m, g, x, y):
        if m is ArrayMath:
            s = self._slope(x)
            s *= g
            return (s,)
        cdf = (m.apply(Erf(), x * _INV_SQRT2) + 1) * 0.5
        return (g * (cdf + x * (m.exp(x * x * -0.5) * _INV_SQRT_2PI)),)

    def jvp(self, t, x, y):
        return t * self._slope(x)
