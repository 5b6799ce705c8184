"""The worked examples that teach backpropagation, reproduced exactly through the public API."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


def leaves(**values):
    return {k: cr.tensor(v, requires_grad=True) for k, v in values.items()}


def test_e_equals_a_plus_b_times_b_plus_1():
    v = leaves(a=2.0, b=1.0)
    e = (v["a"] + v["b"]) * (v["b"] + 1)
    e.backward()
    assert e.item() == 6.0
    assert v["a"].grad.item() == 2.0
    assert v["b"].grad.item() == 5.0


def test_J_equals_3_a_plus_bc():
    v = leaves(a=5.0, b=3.0, c=2.0)
    J = 3 * (v["a"] + v["b"] * v["c"])
    J.backward()
    assert J.item() == 33.0
    assert [v[k].grad.item() for k in "abc"] == [3.0, 6.0, 9.0]


def test_f_equals_x_plus_y_times_z():
    v = leaves(x=-2.0, y=5.0, z=-4.0)
    f = (v["x"] + v["y"]) * v["z"]
    f.backward()
    assert f.item() == -12.0
    assert [v[k].grad.item() for k in "xyz"] == [-4.0, -4.0, 3.0]


def test_sigmoid_neuron():
    """CS231n: f(w, x) = σ(w0 x0 + w1 x1 + w2) at w = [2, -3, -3], x = [-1, -2]."""
    w = cr.tensor([2.0, -3.0, -3.0], dtype=cr.float64, requires_grad=True)
    x = cr.tensor([-1.0, -2.0], dtype=cr.float64, requires_grad=True)
    f = cr.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
    f.backward()
    assert f.item() == pytest.approx(0.7310585786300049)  # σ(1)
    dot = (1 - f.item()) * f.item()  # 0.196...
    np.testing.assert_allclose(w.grad.numpy(), [-1 * dot, -2 * dot, 1 * dot])
    np.testing.assert_allclose(x.grad.numpy(), [2 * dot, -3 * dot])
    np.testing.assert_allclose(w.grad.numpy(), [-0.19661193, -0.39322387, 0.19661193], atol=1e-8)
    np.testing.assert_allclose(x.grad.numpy(), [0.39322387, -0.58983580], atol=1e-8)


def test_staged_computation():
    """CS231n: f = (x + σ(y)) / (σ(x) + (x + y)²) at x = 3, y = -4, against the staged hand
    computation of its gradient."""
    x = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
    y = cr.tensor(-4.0, dtype=cr.float64, requires_grad=True)
    f = (x + y.sigmoid()) / (x.sigmoid() + (x + y) ** 2)
    f.backward()

    # The staged computation written out by hand, forward then backward.
    X, Y = 3.0, -4.0
    sigy = 1 / (1 + math.exp(-Y))
    num = X + sigy
    sigx = 1 / (1 + math.exp(-X))
    xpy = X + Y
    xpysqr = xpy**2
    den = sigx + xpysqr
    invden = 1 / den
    dnum = invden
    dinvden = num
    dden = (-1 / den**2) * dinvden
    dsigx = dden
    dxpysqr = dden
    dxpy = 2 * xpy * dxpysqr
    dx = dxpy + (1 - sigx) * sigx * dsigx + dnum
    dy = dxpy + (1 - sigy) * sigy * dnum

    assert f.item() == pytest.approx(num * invden, rel=1e-14)
    assert x.grad.item() == pytest.approx(dx, rel=1e-12)
    assert y.grad.item() == pytest.approx(dy, rel=1e-12)
    assert f.item() == pytest.approx(1.54564, abs=1e-5)
