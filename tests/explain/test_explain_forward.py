"""explain --forward: the tangent of every node seeded at one input, in the texts' ledger style
(∂c/∂b = 1, ∂d/∂b = 1, ∂e/∂b = 2·1 + 3·1 = 5), equal to backpropagation on the texts' examples,
and the cost of forward against reverse mode."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, explain

M = "\u2212"


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def forward_block(text: str) -> list[str]:
    got = lines(text)
    start = next(i for i, line in enumerate(got) if line.startswith("forward mode (tangents"))
    return got[start:]


def test_e_forward_as_the_texts_derive_it():
    ex = explain("c = a+b; d = b+1; e = c*d", a=2, b=1)
    got = forward_block(ex.report(forward="b"))
    assert got[1:9] == [
        "a input ∂a/∂b = 0",
        "b input ∂b/∂b = 1 (the seed)",
        "c add ∂c/∂b = 1",
        "d add ∂d/∂b = 1",
        "e mul ∂e/∂b = ∂e/∂c·∂c/∂b + ∂e/∂d·∂d/∂b = 2 × 1 + 3 × 1 = 5",
        "∂e/∂c = d = 2",
        "∂e/∂d = c = 3",
        "∂e/∂b = 5 by forward mode; 5 by backpropagation (equal)",
    ]
    # Seeded at a, d does not depend on a: its tangent is 0 and e has one term.
    got = forward_block(ex.report(forward="a"))
    assert "d add ∂d/∂a = 0 (does not depend on a)" in got
    assert "e mul ∂e/∂a = ∂e/∂c·∂c/∂a = 2 × 1 = 2" in got


def test_cost_counts_passes_and_local_products():
    ex = explain("c = a+b; d = b+1; e = c*d", a=2, b=1)
    c = ex.cost()
    # By hand: a reaches a→c, c→e; b reaches b→c, b→d, c→e, d→e; the backward pass has one
    # product per edge carrying a gradient (the constant 1 takes none): 5.
    assert (c.inputs, c.forward_products, c.reverse_products) == (2, {"a": 2, "b": 4}, 5)
    got = forward_block(ex.report(forward="b"))
    assert "forward mode: one pass per input number: 2 passes, 6 local products (a 2, b 4)" in got
    assert (
        "reverse mode: one pass per output: 1 backward pass, 5 local products (one per edge)" in got
    )


STAGED = "num = x + sigmoid(y); sx = sigmoid(x); den = sx + (x+y)**2; f = num/den"


def _staged(x: float, y: float) -> float:
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    return (x + s(y)) / (s(x) + (x + y) ** 2)


@pytest.mark.parametrize(
    "text, at, want",
    [
        ("c = a+b; d = b+1; e = c*d", dict(a=2, b=1), dict(a=2, b=5)),
        ("J = 3*(a + b*c)", dict(a=5, b=3, c=2), dict(a=3, b=6, c=9)),
        ("q = x+y; f = q*z", dict(x=-2, y=5, z=-4), dict(x=-4, y=-4, z=3)),
        # CS231n's neuron gate by gate: σ'(1) = 0.19661193; each weight gets σ' times its input.
        (
            "p0 = w0*x0; p1 = w1*x1; s = p0 + p1; n = s + w2; f = sigmoid(n)",
            dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3),
            dict(w0=-0.19661193, x0=0.39322387, w1=-0.39322387, x1=-0.58983580, w2=0.19661193),
        ),
    ],
)
def test_forward_equals_reverse_and_the_texts(text, at, want):
    ex = explain(text, **at)
    for name, value in want.items():
        fp = ex.forward_mode(name)
        tangent = float(fp.tangent(ex.output))
        assert tangent == pytest.approx(value, abs=1e-7)
        assert tangent == pytest.approx(float(ex.gradients[name]), rel=1e-12)
        assert "by backpropagation (equal)" in ex.report(forward=name)


def test_staged_example_forward_against_a_central_difference():
    ex = explain(STAGED, x=3, y=-4)
    h = 1e-6
    for name, nudge in (("x", (h, 0)), ("y", (0, h))):
        want = (_staged(3 + nudge[0], -4 + nudge[1]) - _staged(3 - nudge[0], -4 - nudge[1])) / (
            2 * h
        )
        tangent = float(ex.forward_mode(name).tangent(ex.output))
        assert tangent == pytest.approx(want, rel=1e-6)
        assert tangent == pytest.approx(float(ex.gradients[name]), rel=1e-12)
    got = forward_block(ex.report(forward="x"))
    assert "n1 sigmoid ∂n1/∂x = 0 (does not depend on x)" in got  # σ(y)
    assert f"n3 pow ∂n3/∂x = ∂n3/∂n2·∂n2/∂x = ({M}2) × 1 = {M}2" in got  # (x+y)² at x+y = −1


def test_vector_input_is_seeded_one_element_at_a_time():
    ex = explain("sigmoid(dot(w, x) + b)", w=[2, -3], x=[-1, -2], b=-3)
    for i in range(2):
        fp = ex.forward_mode(f"w[{i}]")
        assert fp.seed.tolist() == [1.0 * (k == i) for k in range(2)]
        assert float(fp.tangent(ex.output)) == pytest.approx(float(ex.gradients["w"][i]), rel=1e-12)
    assert ex.cost().inputs == 5  # w and x have two numbers each, b one
    with pytest.raises(ExplainError, match=r"w is a vector of 2 numbers .* --forward w\[0\]"):
        ex.forward_mode("w")
    with pytest.raises(ExplainError, match=r"--forward w\[2\]: w is a vector of 2 numbers"):
        ex.forward_mode("w[2]")
    with pytest.raises(
        ExplainError, match="not an input of the expression; the inputs are w, x, b"
    ):
        ex.forward_mode("z")


def test_tangents_are_those_of_cr_jvp(float64):
    ex = explain("c = a+b; d = b+1; e = c*d", a=2, b=1)

    def f(a, b):
        return (a + b) * (b + 1)

    _, tangent = cr.jvp(f, (cr.tensor(2.0), cr.tensor(1.0)), (cr.tensor(0.0), cr.tensor(1.0)))
    assert float(ex.forward_mode("b").tangent(ex.output)) == tangent.item() == 5.0


def test_tangents_are_read_from_the_library_forward_mode(monkeypatch):
    """Every tangent and term passes through the library's forward mode (make._forward_tangent,
    which cr.jvp turns on); the recorded graph is left as it was."""
    import chainrule.autograd.make as make

    ex = explain("c = a+b; d = b+1; e = c*d", a=2, b=1)
    nodes = [id(t._node) for t in ex.forward if t._node is not None]
    real, seen = make._forward_tangent, []

    def spy(op, inputs, out):
        seen.append(op.name)
        real(op, inputs, out)

    monkeypatch.setattr(make, "_forward_tangent", spy)
    fp = ex.forward_mode("b")
    # One replay of the graph (add, add, mul), then one jvp per term: c's b, d's b, e's c and d.
    assert seen == ["add", "add", "mul", "add", "add", "mul", "mul"]
    assert float(fp.tangent(ex.output)) == 5.0
    assert [id(t._node) for t in ex.forward if t._node is not None] == nodes


def test_cli_forward_text_and_json(capsys):
    assert cli.main(["c = a+b; d = b+1; e = c*d", "--at", "a=2", "b=1", "--forward", "b"]) == 0
    out = lines(capsys.readouterr().out)
    assert "e mul ∂e/∂b = ∂e/∂c·∂c/∂b + ∂e/∂d·∂d/∂b = 2 × 1 + 3 × 1 = 5" in out
    assert cli.main(["J = 3*(a + b*c)", "--at", "a=5,b=3,c=2", "--forward", "c", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["forward_mode"]
    assert data["wrt"] == "c" and data["backpropagated"] == 9.0
    assert [(t["node"], t["tangent"]) for t in data["tangents"]] == [
        ("a", 0.0),
        ("b", 0.0),
        ("c", 1.0),
        ("n1", 3.0),
        ("n2", 3.0),
        ("J", 9.0),
    ]
    assert data["cost"]["reverse"] == {"passes": 1, "local_products": 5}
    assert cli.main(["a*b", "--at", "a=1,b=2", "--forward", "q"]) == 2
    assert "not an input of the expression" in capsys.readouterr().err
