"""The one central-difference helper that gradcheck and explain's numerical checks share."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule.autograd.check import central_differences, numerical_jacobian
from chainrule.explain import explain


def test_slopes_of_a_cube_and_the_point_restored():
    x = np.array([[1.0, 2.0], [-3.0, 0.5]])
    before = x.copy()
    rows = list(central_differences(lambda v: float((v**3).sum()), x, 1e-5))
    assert [i for i, *_ in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    slopes = np.array([s for *_, s in rows]).reshape(2, 2)
    np.testing.assert_allclose(slopes, 3 * before**2, rtol=1e-8)
    assert np.array_equal(x, before)  # perturbed in place, restored after every element
    for _, plus, minus, slope in rows:
        assert slope == (plus - minus) / (2 * 1e-5)


def test_one_sided_uses_the_base_and_evaluates_once():
    calls = []

    def f(v):
        calls.append(v.copy())
        return float(v[0] ** 2)

    x = np.array([3.0])
    [(_, plus, minus, slope)] = central_differences(f, x, 0.5, base=9.0)
    assert len(calls) == 1 and minus == 9.0 and plus == 12.25
    assert slope == (12.25 - 9.0) / 0.5


def test_stopping_early_leaves_the_point_as_it_was():
    x = np.arange(5.0)
    for _ in central_differences(lambda v: float(v.sum()), x, 0.1):
        break
    assert np.array_equal(x, np.arange(5.0))


def test_gradcheck_and_explain_agree_on_the_same_function():
    """numerical_jacobian (gradcheck) and explain's numerical check run the same helper: equal
    estimates for the same function, point and step."""
    a = cr.tensor([0.3, -1.2], dtype=cr.float64, requires_grad=True)
    [[jac]] = numerical_jacobian(lambda t: (t.sin() * t).sum(), [a], 1e-6)
    check = explain("sum(sin(a)*a)", a=[0.3, -1.2]).numerical_check(h=1e-6)
    assert [r.estimate for r in check.rows] == list(jac[0])
