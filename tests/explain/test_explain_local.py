"""The ledger's local derivatives with their formulas and values, and numbers printed as the texts
print them (a negative factor in parentheses, a true minus sign: 1 × (−4))."""

from __future__ import annotations

import numpy as np

from chainrule.explain import explain
from chainrule.explain.local import num, term

M = "\u2212"  # the minus sign


def lines(ex) -> list[str]:
    return [" ".join(line.split()) for line in ex.report().splitlines()]


def test_numbers_as_the_texts_print_them():
    assert (num(-4.0), term(-4.0), term(3.0), num(-0.0), num(0.5)) == (
        f"{M}4",
        f"({M}4)",
        "3",
        "0",
        "0.5",
    )
    assert num(np.array([2.0, -3.0])) == f"[2, {M}3]"


def test_mul_locals_are_the_other_factor():
    got = lines(explain("c = a+b; d = b+1; e = c*d", a=2, b=1))
    assert "∂e/∂c = d = 2" in got and "∂e/∂d = c = 3" in got


def test_f_equals_x_plus_y_times_z_with_negative_factors():
    got = lines(explain("q = x+y; f = q*z", x=-2, y=5, z=-4))
    assert f"→ q local ∂f/∂q = {M}4 contribution 1 × ({M}4) = {M}4" in got
    assert f"∂f/∂q = z = {M}4" in got and "∂f/∂z = q = 3" in got
    assert f"→ x local ∂q/∂x = 1 contribution ({M}4) × 1 = {M}4" in got
    assert f"∂f/∂x = {M}4" in got


def test_j_constant_factor_is_not_repeated():
    got = lines(explain("u = b*c; v = a+u; J = 3*v", a=5, b=3, c=2))
    assert "∂J/∂v = 3" in got  # 3·v: the local is the constant itself, said once
    assert "∂u/∂b = c = 2" in got and "∂u/∂c = b = 3" in got


def test_division_power_and_sigmoid_formulas():
    # f = (x + σ(y)) / (σ(x) + (x+y)²) at x=3, y=-4, staged.
    ex = explain(
        "num = x + sigmoid(y); sx = sigmoid(x); den = sx + (x+y)**2; f = num/den", x=3, y=-4
    )
    numv, den, sx = 3 + 1 / (1 + np.exp(4)), 1 / (1 + np.exp(-3)) + 1, 1 / (1 + np.exp(-3))
    got = lines(ex)
    assert f"∂f/∂num = 1/den = 1/{num(den)} = {num(1 / den)}" in got
    assert f"∂f/∂den = {M}num/den² = {M}{num(numv)}/{num(den)}² = {num(-numv / den**2)}" in got
    assert f"∂sx/∂x = sx(1 {M} sx) = {num(sx)} × {num(1 - sx)} = {num(sx * (1 - sx))}" in got
    assert f"∂n3/∂n2 = 2·n2 = 2 × ({M}1) = {M}2" in got  # (x+y)² at x+y = −1
    # The running sum with a negative term in parentheses.
    text = "\n".join(got)
    assert f"+ ({M}0.0357615) = 0.476383" in text


def test_relu_kink_and_max_tie_are_said():
    got = "\n".join(lines(explain("y = relu(x)", x=0)))
    assert "a kink, where relu has no derivative (chainrule takes 0)" in got
    got = "\n".join(lines(explain("m = max(a, b)", a=2, b=2)))
    assert "a tie (a = b = 2), where chainrule splits the gradient" in got
    got = "\n".join(lines(explain("m = max(a, b)", a=3, b=2)))
    assert "∂m/∂a = 1, since a is the one taken" in got
    assert "∂m/∂b = 0, since b is the one not taken" in got
