"""Special functions as primitive ops: ``erf`` (for the exact GELU)."""

from __future__ import annotations

import math

import numpy as np

from chainrule.backend import kind
from chainrule.ops.base import Op

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# NumPy has no erf; the C library's, elementwise, is correctly rounded to within an ulp.
_erf = np.frompyfunc(math.erf, 1, 1)


class Erf(Op):
    """erf x = 2/√π ∫₀ˣ e^(-t²) dt elementwise; d/dx = 2/√π · e^(-x²)."""

    name = "erf"

    def forward(self, x):
        x = np.asarray(x)
        return np.asarray(_erf(x), dtype=x.dtype if kind(x.dtype) == "f" else np.float64)

    def vjp(self, m, g, x, y):
        return (g * (m.exp(-(x * x)) * _TWO_OVER_SQRT_PI),)

    def jvp(self, t, x, y):
        return t * (np.exp(-(x * x)) * _TWO_OVER_SQRT_PI)
