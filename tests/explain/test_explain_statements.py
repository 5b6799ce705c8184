"""chainrule explain's statements (``c = a+b; d = b+1; e = c*d``): the user's names on the nodes, in
the ledger and in the paths, shared nodes from reused names, and hints for a missing ``*``."""

from __future__ import annotations

import pytest

from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, explain, parse


def grads(ex) -> dict[str, float]:
    return {k: float(v) for k, v in ex.gradients.items()}


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_statements_name_the_nodes_and_the_ledger():
    ex = explain("c = a+b; d = b+1; e = c*d", a=2, b=1)
    assert [(ex.name(t), float(t.numpy())) for t in ex.forward] == [
        ("a", 2.0), ("b", 1.0), ("c", 3.0), ("d", 2.0), ("e", 6.0),
    ]  # fmt: skip
    assert grads(ex) == {"a": 2.0, "b": 5.0}
    assert [t.name for t in ex.forward] == ["a", "b", "c", "d", "e"]  # what the picture shows
    got = lines(ex.report(paths=True))
    for want in [
        "e mul, upstream 1 (the seed: ∂e/∂e = 1)",
        "→ c local ∂e/∂c = 2 contribution 1 × 2 = 2",
        "→ d local ∂e/∂d = 3 contribution 1 × 3 = 3",
        "→ b local ∂d/∂b = 1 contribution 3 × 1 = 3 running sum at b: 2 + 3 = 5",
        "∂e/∂a = 2",
        "∂e/∂b = 5",
        "b: e → c → b 2 × 1 = 2",
        "e → d → b 3 × 1 = 3",
    ]:
        assert want in got, want


def test_one_named_statement_numbers_the_unnamed_nodes():
    ex = explain("e = (a+b)*(b+1)", a=2, b=1)
    assert [ex.name(t) for t in ex.forward] == ["a", "b", "n1", "n2", "e"]
    assert grads(ex) == {"a": 2.0, "b": 5.0}
    assert "∂e/∂b = 5" in lines(ex.report())


def test_j_equals_3_a_plus_bc():
    # J = 3v, v = a + u, u = bc at a=5, b=3, c=2: u = 6, v = 11, J = 33; dJ/da, db, dc = 3, 6, 9.
    ex = explain("u = b*c; v = a+u; J = 3*v", a=5, b=3, c=2)
    assert {ex.name(t): float(t.numpy()) for t in ex.forward if t._node is not None} == {
        "u": 6.0, "v": 11.0, "J": 33.0,
    }  # fmt: skip
    assert grads(ex) == {"b": 6.0, "c": 9.0, "a": 3.0}
    got = lines(ex.report())
    assert "→ u local ∂v/∂u = 1 contribution 3 × 1 = 3" in got
    assert "→ b local ∂u/∂b = 2 contribution 3 × 2 = 6" in got


def test_f_equals_x_plus_y_times_z():
    ex = explain("q = x+y; f = q*z", x=-2, y=5, z=-4)
    assert float(ex.output.numpy()) == -12.0
    assert grads(ex) == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert "∂f/∂z = 3" in lines(ex.report())


def test_reused_name_builds_shared_nodes_and_exponentially_many_paths():
    ex = explain("; ".join(["u = u*u"] * 10), u=1.0)
    assert [ex.name(t) for t in ex.forward] == ["u"] + [f"u_{i}" for i in range(2, 12)]
    assert grads(ex) == {"u": 1024.0}  # d(u^1024)/du at 1
    s = ex.paths()
    assert len(s.paths[id(ex.inputs["u"])]) == 1024
    # Each path multiplies its 10 factors (9 multiplications); backprop one per edge below the
    # output: 2 edges per node, 9 nodes below the output.
    assert (s.path_multiplications, s.backprop_multiplications) == (9216, 18)
    text = ex.report(paths=True)
    assert "… 1,008 more paths: 1,024 in all" in text
    assert "multiplications: 9,216 along the paths, 18 by backpropagation" in text


def test_alias_and_constant_statements():
    ex = explain("k = 3; y = x; z = k*y", x=2)
    assert [ex.name(t) for t in ex.forward] == ["x", "z"]
    assert grads(ex) == {"x": 3.0}


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("3(a+b)", "multiplication needs '*': write 3*(a+b)", 1),
        ("(x+y)z", "multiplication needs '*': write (x+y)*z", 5),
        ("e = 2a+b", "multiplication needs '*': write e = 2*a+b", 5),
        ("a(b+c) + a", "to multiply, write a*(b+c)", 1),
        ("c = a+b; a+b; e = c", "an expression that is not the last statement", 10),
        ("a, b = 1, 2", "assign to one name", 1),
        ("exp = a", "exp is a function: it cannot be assigned", 1),
        ("_x = a", "may not start with _", 1),
        ("c = a+b; e = c.real", "attribute access is not allowed", 15),
    ],
)
def test_statement_errors(text, message, column):
    with pytest.raises(ExplainError) as info:
        parse(text)
    assert message in str(info.value)
    assert f"(column {column})" in str(info.value)


def test_a_computed_name_takes_no_value():
    with pytest.raises(ExplainError, match="a statement computes it: drop --at c="):
        explain("c = a+b; e = c*c", a=1, b=2, c=3)


def test_cli_statements_and_values_separated_by_spaces(capsys):
    assert cli.main(["c = a+b; d = b+1; e = c*d", "--at", "a=2", "b=1"]) == 0
    got = lines(capsys.readouterr().out)
    assert "∂e/∂a = 2" in got and "∂e/∂b = 5" in got
    # The expression after the values is taken back out of --at.
    assert cli.main(["--at", "a=2", "b=1", "e = a*b"]) == 0
    assert "∂e/∂b = 2" in lines(capsys.readouterr().out)
    assert cli.main(["--at", "a=2"]) == 2
    assert "no expression given" in capsys.readouterr().err
