"""The vectorised erf and the fused exact GELU (chainrule/ops/special.py): accuracy against
``math.erf`` on dense grids and tails in both float dtypes, special values, and PyTorch's values
and gradients."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.special import erf_array

torch = pytest.importorskip("torch")

_math_erf = np.vectorize(math.erf, otypes=[np.float64])


def _grid() -> np.ndarray:
    """Dense on [-7, 7], normal draws, and both tails down to the smallest doubles."""
    rng = np.random.default_rng(0)
    tiny = np.geomspace(1e-300, 10.0, 4000)
    edges = [0.0, 1.0, 3.0, 6.0, 4.4, 3.9]  # the float64 pieces' seams, float32's clamp
    edges = [e + d for e in edges for d in (-1e-12, 0.0, 1e-12)]
    return np.concatenate(
        [np.linspace(-7, 7, 200_001), rng.normal(size=20_000) * 3, tiny, -tiny, edges]
    )


def _ulps(got: np.ndarray, want: np.ndarray, dtype) -> np.ndarray:
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(
        ulp, np.finfo(dtype).smallest_subnormal
    )


def test_float64_erf_is_within_4_ulp_of_math_erf():
    x = _grid()
    y = erf_array(x)
    assert y.dtype == np.float64
    assert _ulps(y, _math_erf(x), np.float64).max() <= 4.0


def test_float32_erf_is_within_6_ulp_of_math_erf():
    x = _grid().astype(np.float32)
    want = _math_erf(x.astype(np.float64))
    y = erf_array(x)
    assert y.dtype == np.float32
    assert _ulps(y, want, np.float32).max() <= 6.0
    assert np.abs(y.astype(np.float64) - want).max() < 4e-7
    # PyTorch's float32 erf, for the record of what float32 rounding allows: within 1 ulp.
    theirs = torch.erf(torch.from_numpy(x)).numpy()
    assert np.abs(y.astype(np.float64) - theirs).max() < 4.5e-7


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, ml_dtypes.bfloat16])
def test_erf_special_values_and_dtypes(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 30.0, -30.0, 0.5], dtype=dtype)
    y = erf_array(x)
    assert y.dtype == np.dtype(dtype)
    y = y.astype(np.float64)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:7], [1.0, -1.0, 0.0, -0.0, 1.0, -1.0])
    assert np.signbit(y[4])  # erf(-0) = -0, as math.erf
    assert y[7] == pytest.approx(math.erf(0.5), rel=1e-2)


def test_erf_of_integers_and_0d_arrays_is_float64():
    np.testing.assert_allclose(erf_array(np.array([0, 1, 2])), [0.0, math.erf(1), math.erf(2)])
    assert erf_array(np.float32(0.5)).shape == ()
    assert erf_array(np.array(0.5)).dtype == np.float64


def test_float32_subnormals_keep_their_relative_accuracy():
    x = np.array([1e-45, 1e-40, 1e-30, -1e-20], dtype=np.float32)
    want = x.astype(np.float64) * (2 / math.sqrt(math.pi))
    assert _ulps(erf_array(x), want, np.float32).max() <= 1.0


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-14), ("float32", 5e-7)])
def test_gelu_values_and_gradients_match_torch(dtype, tol):
    """Within ``tol`` · max(1, |x|): in float32 the error is that of Φ (half erf's, 2e-7) times x,
    and in the far left tail 1 + erf(x/√2) cancels in both frameworks (PyTorch returns 0 where
    the true value is -1.4e-6 at x = -5; this erf returns -7e-7)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(-12, 12, 20_001), rng.normal(size=5000) * 4]).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    yo, yt = F.gelu(ours), torch.nn.functional.gelu(theirs)
    assert yo.dtype == getattr(cr, dtype)
    scale = np.maximum(1.0, np.abs(x.astype(np.float64)))
    assert np.max(np.abs(yo.numpy() - yt.detach().numpy()) / scale) < tol
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    scale *= np.maximum(1.0, np.abs(g))
    assert np.max(np.abs(ours.grad.numpy() - theirs.grad.numpy()) / scale) < tol


def test_gelu_second_derivative_is_checked_numerically():
    """The backward pass recorded (create_graph=True) recomputes Φ differentiably."""

    def gradient(x):
        (g,) = cr.grad((F.gelu(x) * x).sum(), x, create_graph=True)
        return g

    x = cr.tensor(np.random.default_rng(7).normal(size=(3, 4)) * 2, requires_grad=True)
    assert cr.gradcheck(gradient, [x])


def test_gelu_of_a_0d_tensor_and_its_gradient():
    x = cr.tensor(0.3, dtype=cr.float32, requires_grad=True)
    y = F.gelu(x)
    y.backward()
    t = torch.tensor(0.3, requires_grad=True)
    torch.nn.functional.gelu(t).backward()
    assert y.shape == () and x.grad.shape == ()
    assert float(x.grad.numpy()) == pytest.approx(float(t.grad), rel=1e-6)


def test_float32_gelu_at_zeros_tails_and_non_finite_values():
    """The float32 path builds Φ from the Mills ratio: Φ(±0) is 1/2 exactly, the tails reach
    x and 0 exactly, and inf and NaN pass through the continued fraction."""
    x = cr.tensor(np.array([0.0, -0.0, 20.0, -20.0, 1e-30], np.float32), requires_grad=True)
    y = F.gelu(x)
    y.backward(cr.tensor(np.ones(5, np.float32)))
    assert y.numpy()[0] == 0.0 and y.numpy()[4] == np.float32(5e-31)
    assert np.signbit(y.numpy()[1]) and y.numpy()[2] == 20.0 and y.numpy()[3] == 0.0
    assert x.grad.numpy().tolist() == [0.5, 0.5, 1.0, 0.0, 0.5]
    special = F.gelu(cr.tensor(np.array([np.inf, np.nan], np.float32))).numpy()
    assert special[0] == np.inf and np.isnan(special[1])
