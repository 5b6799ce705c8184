"""explain --nudge (any node, inputs and intermediates) and --order statements (CS231n's staged
computation, (8) back to (1)), each backward step under the statement it comes from."""

from __future__ import annotations

import json

import pytest

from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, explain

J = "u = b*c; v = a + u; J = 3*v"


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_nudging_inputs_and_intermediates_of_j():
    ex = explain(J, "a=5,b=3,c=2")
    for name, up, down, slope in [
        ("a", 33.003, 32.997, 3),
        ("u", 33.003, 32.997, 3),
        ("v", 33.003, 32.997, 3),
        ("b", 33.006, 32.994, 6),
        ("c", 33.009, 32.991, 9),
    ]:
        (row,) = ex.nudge(name, h=0.001)
        assert (row.up, row.down) == pytest.approx((up, down), abs=1e-12)
        assert row.slope == pytest.approx(slope, rel=1e-9)
        assert row.backprop == slope
    got = lines(ex.nudge_report(["u", "v", "b"], h=0.001))
    assert "nudging u up by 0.001: J goes 33 → 33.003" in got
    assert "nudging v up by 0.001: J goes 33 → 33.003" in got
    assert "nudging b up by 0.001: J goes 33 → 33.006" in got
    assert "u 6 33.003 32.997 3 3" in got


def test_nudging_an_intermediate_moves_only_what_follows_it():
    # e = c*d with c = a+b and d = b+1: nudging c leaves d alone, so ∂e/∂c = d = 2, not 2 + 3.
    (row,) = explain("c = a+b; d = b+1; e = c*d", "a=2,b=1").nudge("c", h=1e-3)
    assert row.slope == pytest.approx(2, rel=1e-9) and row.backprop == 2


def test_nudging_the_elements_of_a_vector_node():
    ex = explain("z = W @ x; s = sum(sigmoid(z))", "W=[[1,2],[3,4]],x=[1,-1]")
    rows = ex.nudge("z", h=1e-4)
    assert [r.label for r in rows] == ["z[0]", "z[1]"]
    for r in rows:
        assert r.slope == pytest.approx(r.backprop, rel=1e-6)


def test_cli_nudge_text_and_json(capsys):
    assert (
        cli.main([J, "--at", "a=5", "b=3", "c=2", "--nudge", "u", "--nudge", "v", "--h", "0.001"])
        == 0
    )
    out = capsys.readouterr().out
    assert "nudging u up by 0.001: J goes 33 → 33.003" in out
    assert cli.main([J, "--at", "a=5,b=3,c=2", "--nudge", "u", "--h", "0.001", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["nudges"]["nodes"]["u"][0]["up"] == pytest.approx(33.003, abs=1e-12)
    assert cli.main([J, "--at", "a=5,b=3,c=2", "--nudge", "w"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "chainrule explain: error: --nudge w: no node of that name; the nodes are b, c, a, u, v, J"
    )


def test_nudge_refuses_a_bad_step():
    with pytest.raises(ExplainError, match="--h must be a positive step"):
        explain(J, "a=5,b=3,c=2").nudge("u", h=0)


STAGED = (
    "sigy = 1/(1+exp(-y)); num = x + sigy; sigx = 1/(1+exp(-x)); xpy = x + y; "
    "xpysqr = xpy**2; den = sigx + xpysqr; invden = 1/den; f = num*invden"
)


def test_statement_order_runs_the_staged_example_from_8_to_1():
    ex = explain(STAGED, "x=3,y=-4", order="statements")
    got = lines(ex.report())
    heads = [line for line in got if line[:1] == "(" and line[1:2].isdigit()]
    assert heads == [
        "(8) f = num*invden",
        "(7) invden = 1/den",
        "(6) den = sigx + xpysqr",
        "(5) xpysqr = xpy**2",
        "(4) xpy = x + y",
        "(3) sigx = 1/(1+exp(-x))",
        "(2) num = x + sigy",
        "(1) sigy = 1/(1+exp(-y))",
    ]
    assert got[got.index("(8) f = num*invden") - 1] == (
        "backward pass (the statements' order, last statement first; contribution = upstream × "
        "local)"
    )
    # CS231n: dx = dxpy at (4), dx += σ'(x)·dsigx at (3), dx += dnum at (2).
    runs = [line for line in got if "running sum at x" in line]
    assert runs[0].endswith("running sum at x: 1.58319 + (−0.0357615) = 1.54743")
    assert runs[1].endswith("running sum at x: 1.54743 + 0.512144 = 2.05957")
    assert next(line for line in got if "running sum at y" in line).endswith(
        "running sum at y: 1.58319 + 0.00904586 = 1.59223"
    )
    assert ex.gradients["x"] == pytest.approx(2.0595697, abs=1e-7)
    engine = explain(STAGED, "x=3,y=-4")
    assert lines(engine.report())[-2:] == got[-2:]  # the same gradients either way


def test_statements_in_json_and_cli(capsys):
    assert cli.main([STAGED, "--at", "x=3", "y=-4", "--order", "statements", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["order"] == "statements"
    assert [s["statement"] for s in data["backward"]][:2] == [
        "(8) f = num*invden",
        "(7) invden = 1/den",
    ]
    with pytest.raises(ExplainError, match="--order: expected engine or statements"):
        explain(STAGED, "x=3,y=-4", order="paths")
