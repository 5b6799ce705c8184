"""The fused activation ops (chainrule/ops/activation.py), sigmoid, tan and the special powers, on
arrays large enough for their branch-free paths (>= 4096 values), against PyTorch in float32 and
float64: values and the gradients of a random upstream gradient, infinities included."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.activation import select

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = {
    "leaky_relu": (lambda x: F.leaky_relu(x), lambda x: TF.leaky_relu(x)),
    "leaky_relu_0": (lambda x: F.leaky_relu(x, 0.0), lambda x: TF.leaky_relu(x, 0.0)),
    "leaky_relu_neg": (lambda x: F.leaky_relu(x, -0.3), lambda x: TF.leaky_relu(x, -0.3)),
    "leaky_relu_steep": (lambda x: F.leaky_relu(x, 1.5), lambda x: TF.leaky_relu(x, 1.5)),
    "leaky_relu_": (
        lambda x: F.leaky_relu(x * 1, 0.2, inplace=True),
        lambda x: TF.leaky_relu(x * 1, 0.2, inplace=True),
    ),
    "elu": (lambda x: F.elu(x), lambda x: TF.elu(x)),
    "elu_half": (lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    "elu_": (lambda x: F.elu(x * 1, inplace=True), lambda x: TF.elu(x * 1, inplace=True)),
    "softplus": (lambda x: F.softplus(x), lambda x: TF.softplus(x)),
    "softplus_beta": (lambda x: F.softplus(x, 2.0, 1.5), lambda x: TF.softplus(x, 2.0, 1.5)),
    "silu": (lambda x: F.silu(x), lambda x: TF.silu(x)),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "tan": (lambda x: (x * 0.3).tan(), lambda x: (x * 0.3).tan()),
    "pow3": (lambda x: x**3, lambda x: x**3),
    "pow_half": (lambda x: x.abs() ** 0.5, lambda x: x.abs() ** 0.5),
    "pow_minus_half": (lambda x: x.abs() ** -0.5, lambda x: x.abs() ** -0.5),
    "pow_minus_one": (lambda x: x**-1, lambda x: x**-1),
}


def _inputs(dtype) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=6000) * 4, np.linspace(-30, 30, 2001), [80.0, -80.0]])
    return x[np.abs(x) > 1e-3].astype(dtype)  # away from 0, where powers have poles


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-6)])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_on_large_inputs(name, dtype, tol):
    ours_fn, torch_fn = CASES[name]
    x = _inputs(dtype)
    g = np.random.default_rng(4).normal(size=x.shape).astype(dtype)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours_fn(xo), torch_fn(xt)
    assert yo.dtype == getattr(cr, dtype)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


LEAKY = ["leaky_relu", "leaky_relu_0", "leaky_relu_neg", "leaky_relu_steep"]


@pytest.mark.parametrize("name", [*LEAKY, "elu", "softplus", "sigmoid"])  # silu(-inf): nan
def test_infinities_and_nan_as_torch(name):
    ours_fn, torch_fn = CASES[name]
    x = np.concatenate([[np.inf, -np.inf, np.nan], np.linspace(-3, 3, 5000)]).astype(np.float32)
    yo = ours_fn(cr.tensor(x)).numpy()
    yt = torch_fn(torch.tensor(x)).numpy()
    np.testing.assert_allclose(yo, yt, rtol=2e-6, atol=2e-6, equal_nan=True)


@pytest.mark.parametrize("name", LEAKY)
def test_leaky_relu_gradient_at_infinities_as_torch_without_warnings(name, recwarn):
    # A slope of 0 gave nan at +inf (max(inf, 0 · inf)) and so a gradient of 0 where torch's is 1.
    ours_fn, torch_fn = CASES[name]
    x = np.array([np.inf, -np.inf, np.nan, 2.0, -2.0, 0.0], np.float32)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours_fn(xo), torch_fn(xt)
    np.testing.assert_array_equal(yo.detach().numpy(), yt.detach().numpy())
    yo.backward(cr.ones(6))  # (not .sum(): NumPy warns on inf + -inf in a sum)
    yt.backward(torch.ones(6))
    np.testing.assert_array_equal(xo.grad.numpy(), xt.grad.numpy())
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_select_is_exact_for_every_value():
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        a = rng.normal(size=10_000).astype(dtype)
        b = rng.normal(size=10_000).astype(dtype)
        a[:4] = [np.nan, np.inf, -0.0, -np.inf]
        b[4:8] = [np.nan, np.inf, -0.0, -np.inf]
        cond = rng.random(10_000) > 0.5
        want = np.where(cond, a, b)
        got = select(cond, a, b.copy())
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))  # bit for bit
