"""Floor division of float arrays, bit for bit as ``np.floor_divide`` (and PyTorch's
``div(rounding_mode="floor")``, which follow the same C routine) but about 4x faster: NumPy's
float loop calls ``divmod`` element by element (22 ms for 10^6 float32), while the same steps
written as whole-array ufuncs take about 5 ms, most of it ``fmod``."""

from __future__ import annotations

import numpy as np

_FAST = (np.dtype(np.float32), np.dtype(np.float64))


def floor_divide(a, b):
    """``np.floor_divide(a, b)``: for float32/float64 results, NumPy's ``npy_divmod`` steps on
    whole arrays (each step is one IEEE operation in the result's dtype, as in the C loop, so
    the results are the same bits); other dtypes (integers, float16, which NumPy computes in
    float32) and scalars go to NumPy itself."""
    dtype = np.result_type(a, b)
    if dtype not in _FAST or (np.ndim(a) == 0 and np.ndim(b) == 0):  # (scalars: cheap there)
        return np.floor_divide(a, b)
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    with np.errstate(all="ignore"):
        mod = np.fmod(a, b)
        div = np.subtract(a, mod)
        div /= b
        # Python's convention: the remainder takes the divisor's sign, the quotient one less.
        div -= (mod != 0) & ((b < 0) != (mod < 0))
        out = np.floor(div)
        out += (div - out) > 0.5  # snap to the nearest integer, as the C loop does
        # The C loop's copysign(0, a/b) where div is 0; ``out`` is +0 there (the += above turns
        # -0 into +0), so only the negative zeros are written: a/b's sign is a's xor b's.
        neg_zero = div == 0
        neg_zero &= np.signbit(a) != np.signbit(b)
        np.copyto(out, -0.0, where=neg_zero)
        by_zero = b == 0
        if by_zero.any():  # the C loop returns a/b itself there (+-inf or nan)
            out = np.where(by_zero, a / b, out)
    return out
