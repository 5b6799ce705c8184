"""chainrule explain: the safe parser, the recorded backward ledger, paths, numerical check, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import explain as cli
from chainrule.explain import (
    ExplainError,
    GraphFreedError,
    explain,
    parse,
    parse_bindings,
    record,
)
from chainrule.explain.parser import MAX_DEPTH, MAX_LENGTH


# ----- the ledger of e = (a+b)(b+1) at a=2, b=1, against the hand computation -----
@pytest.fixture
def e_example():
    return explain("(a+b)*(b+1)", a=2, b=1)


def by_name(ex, name):
    return next(t for t in ex.forward if ex.name(t) == name)


def test_forward_pass_in_topological_order(e_example):
    ex = e_example
    rows = [
        (ex.name(t), "input" if t._node is None else t._node.name, float(t.numpy()))
        for t in ex.forward
    ]
    # c = a + b = 3, d = b + 1 = 2, e = c·d = 6
    assert rows == [
        ("a", "input", 2.0),
        ("b", "input", 1.0),
        ("n1", "add", 3.0),
        ("n2", "add", 2.0),
        ("n3", "mul", 6.0),
    ]
    assert ex.texts[id(by_name(ex, "n1"))] == "a+b"
    assert ex.texts[id(by_name(ex, "n2"))] == "b+1"
    assert [ex.name(i) for i in by_name(ex, "n2")._node.inputs] == ["b", "1"]


def test_backward_ledger_matches_the_hand_computation(e_example):
    ex = e_example
    steps = {ex.name(s.tensor): s for s in ex.ledger.steps}
    assert list(steps) == ["n3", "n1", "n2"]  # reverse topological order, output first

    def edges(name):
        s = steps[name]
        return [
            (
                ex.name(e.source),
                None if e.contribution is None else float(ex.ledger.local(s, e.slot)),
                None if e.contribution is None else float(e.contribution),
            )
            for e in s.edges
        ]

    # e = c·d: upstream 1; c receives 1·d = 2, d receives 1·c = 3.
    assert float(steps["n3"].upstream) == 1.0
    assert edges("n3") == [("n1", 2.0, 2.0), ("n2", 3.0, 3.0)]
    # c = a + b: upstream 2, local 1 to each.
    assert float(steps["n1"].upstream) == 2.0
    assert edges("n1") == [("a", 1.0, 2.0), ("b", 1.0, 2.0)]
    # d = b + 1: upstream 3, local 1 to b; the constant takes nothing.
    assert float(steps["n2"].upstream) == 3.0
    assert edges("n2") == [("b", 1.0, 3.0), ("1", None, None)]
    # b's total: 2·1 + 3·1 = 5, accumulated in that order.
    b = ex.inputs["b"]
    assert [float(g) for g in ex.ledger.received[id(b)]] == [2.0, 3.0]
    last = steps["n2"].edges[0]
    assert (float(last.previous), float(last.contribution), float(last.total)) == (2.0, 3.0, 5.0)
    assert last.arrival == 2
    assert {k: float(v) for k, v in ex.gradients.items()} == {"a": 2.0, "b": 5.0}
    # The final gradients are what backward() put in .grad.
    assert ex.inputs["a"].grad.item() == 2.0 and b.grad.item() == 5.0


def test_report_lines(e_example):
    text = e_example.report()
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for want in [
        "n1 add a, b 3 a+b",
        "n2 add b, 1 2 b+1",
        "n3 mul n1, n2 6 (a+b)*(b+1)",
        "n3 mul, upstream 1 (the seed: ∂n3/∂n3 = 1)",
        "→ n1 local ∂n3/∂n1 = 2 contribution 1 × 2 = 2",
        "→ n2 local ∂n3/∂n2 = 3 contribution 1 × 3 = 3",
        "n1 add, upstream 2",
        "→ b local ∂n1/∂b = 1 contribution 2 × 1 = 2",
        "n2 add, upstream 3",
        "→ b local ∂n2/∂b = 1 contribution 3 × 1 = 3 running sum at b: 2 + 3 = 5",
        "∂n3/∂a = 2",
        "∂n3/∂b = 5",
    ]:
        assert want in lines, f"missing line {want!r} in\n{text}"
    # Backward lines come in the engine's order, after the forward table.
    assert lines.index("n3 mul, upstream 1 (the seed: ∂n3/∂n3 = 1)") < lines.index(
        "n1 add, upstream 2"
    )


def test_paths_and_their_products(e_example):
    ex = e_example
    s = ex.paths()
    a, b = ex.inputs["a"], ex.inputs["b"]

    def listed(t):
        return [
            ([ex.name(x) for x in p.tensors], [f.item() for f in p.factors], float(p.product))
            for p in s.paths[id(t)]
        ]

    assert listed(a) == [(["n3", "n1", "a"], [2.0, 1.0], 2.0)]
    assert listed(b) == [(["n3", "n1", "b"], [2.0, 1.0], 2.0), (["n3", "n2", "b"], [3.0, 1.0], 3.0)]
    assert float(s.total(b)) == 5.0 == float(ex.gradients["b"])
    assert (s.path_multiplications, s.backprop_multiplications) == (3, 3)
    assert (s.path_additions, s.backprop_additions) == (1, 1)
    text = ex.report(paths=True)
    assert "sum of path products 2 + 3 = 5;  backpropagated 5  (equal)" in text


def test_paths_cost_more_multiplications_than_backprop_on_deeper_graphs():
    ex = explain("3*(a + b*c)", a=5, b=3, c=2)
    assert {k: float(v) for k, v in ex.gradients.items()} == {"a": 3.0, "b": 6.0, "c": 9.0}
    s = ex.paths()
    # paths: J→n2→a (1 mult), J→n2→n1→b (2), J→n2→n1→c (2); backprop: one per edge below J.
    assert (s.path_multiplications, s.backprop_multiplications) == (5, 4)


def test_vector_inputs_sigmoid_neuron():
    ex = explain("sigmoid(dot(w, x) + b)", "w=[2,-3],x=[-1,-2],b=-3")
    assert float(ex.output.numpy()) == pytest.approx(0.7310586, abs=1e-7)
    d = 0.7310586 * (1 - 0.7310586)
    np.testing.assert_allclose(ex.gradients["w"], [-d, -2 * d], rtol=1e-6)
    np.testing.assert_allclose(ex.gradients["x"], [2 * d, -3 * d], rtol=1e-6)
    np.testing.assert_allclose(ex.gradients["b"], d, rtol=1e-6)
    s = ex.paths()
    for name, t in ex.inputs.items():
        np.testing.assert_allclose(s.total(t), ex.gradients[name], rtol=1e-12)
    num = ex.numerical()
    for name in ex.inputs:
        np.testing.assert_allclose(num[name], ex.gradients[name], atol=1e-8)


def test_every_function_against_numerical():
    ex = explain(
        "x*x*x + max(x, 0) - relu(-x)/sqrt(y) + log(exp(tanh(y))) + sum(v*x) + max(v) - 2**x/y",
        x=0.7,
        y=1.3,
        v=[1.0, -2.0, 3.5],
    )
    num = ex.numerical()
    for name in ex.inputs:
        np.testing.assert_allclose(num[name], ex.gradients[name], rtol=1e-6, atol=1e-8)


def test_numerical_checks_hold_the_class_index_fixed():
    # k takes no gradient: the difference quotients vary z alone and evaluate with k as given.
    ex = explain("cross_entropy(z, k)", z=[1.0, 2.0, 0.5], k=1)
    assert list(ex.inputs) == ["z"] and list(ex.fixed) == ["k"]
    np.testing.assert_allclose(ex.numerical()["z"], ex.gradients["z"], atol=1e-8)
    check = ex.numerical_check()
    assert [r.label for r in check.rows] == ["z[0]", "z[1]", "z[2]"]
    assert not any(r.flagged for r in check.rows)
    np.testing.assert_allclose([r.estimate for r in check.rows], ex.gradients["z"], atol=1e-8)


def test_ledger_of_a_user_graph_with_shared_intermediate(float64):
    # c is used three times (once by the add, twice by c*c), so it receives three contributions
    # before its own step runs: 1 from the add, c and c from the mul.
    a = cr.tensor(1.5, requires_grad=True)
    b = cr.tensor(-0.5, requires_grad=True)
    c = a * b
    out = c + c * c
    ledger = record(out)
    assert a.grad is None  # record() uses cr.grad: user's .grad is untouched
    step_c = next(s for s in ledger.steps if s.tensor is c)
    got = [float(g) for g in ledger.received[id(c)]]
    assert got == [1.0, -0.75, -0.75]
    assert float(step_c.upstream) == sum(got)
    ga, gb = cr.grad(out, [a, b], retain_graph=True)
    assert float(ledger.grad(a)) == pytest.approx(ga.item())
    assert float(ledger.grad(b)) == pytest.approx(gb.item())
    # dc: 1 + 2c = 1 - 1.5 = -0.5
    assert float(step_c.upstream) == pytest.approx(1 + 2 * (1.5 * -0.5))


def test_freed_graph_is_a_clear_error():
    a = cr.tensor(2.0, requires_grad=True)
    out = a * a
    out.backward()
    with pytest.raises(GraphFreedError, match="retain_graph=True"):
        record(out)


# ----- the parser refuses everything outside the whitelist -----
@pytest.mark.parametrize(
    "text, message, column",
    [
        ("__import__('os')", "call to '__import__' is not allowed", 1),
        ("__import__('os').system('ls')", "call to '__import__' is not allowed", 1),
        ("(a).__class__.__base__", "attribute access is not allowed", 4),
        ("a.__class__", "attribute access is not allowed", 2),
        ("a + b.real", "attribute access is not allowed", 6),
        ("open('x')", "call to 'open' is not allowed", 1),
        ("a + print(a)", "call to 'print' is not allowed", 5),
        ("exp(a)(b)", "only the functions", 1),
        ("w[0]", "indexing (subscripts) is not allowed", 1),
        ("lambda: a", "lambda is not allowed", 1),
        ("[x for x in a]", "comprehensions are not allowed", 1),
        ("a ^ 2", "'^' is bitwise xor", 3),
        ("a if b else c", "conditional expressions are not allowed", 1),
        ("a < b", "comparisons are not allowed", 1),
        ("'abc'", "strings are not allowed", 1),
        ("exp(a, b)", "exp takes 1 argument, got 2", 1),
        ("exp(x=a)", "keyword arguments are not allowed", 7),
        ("exp + 1", "exp is a function", 1),
        ("_secret", "may not start with _", 1),
        ("a +", "syntax error", None),
        ("a\nb", "character '\\n' is not allowed", 2),
    ],
)
def test_parser_refuses(text, message, column):
    with pytest.raises(ExplainError) as info:
        parse(text)
    err = info.value
    assert message in str(err)
    if column is not None:
        assert f"(column {column})" in str(err)
        rendered = err.render().splitlines()
        assert rendered[2].index("^") == 2 + column - 1  # the caret sits under the token


def test_parser_refuses_overlong_and_deep_input():
    with pytest.raises(ExplainError, match=f"the limit is {MAX_LENGTH}") as info:
        parse("a+" * 300 + "a")
    assert f"(column {MAX_LENGTH + 1})" in str(info.value)
    with pytest.raises(ExplainError, match=f"nested more than {MAX_DEPTH} levels"):
        parse("-" * (MAX_DEPTH + 5) + "a")
    with pytest.raises(ExplainError):  # the parser's own nesting limit, not a crash
        parse("(" * 210 + "a" + ")" * 210)


def test_parser_accepts_the_whitelist():
    e = parse("-a + b*c - d/e ** 2 + exp(a) + log(b) + sqrt(c) + tanh(d) + sigmoid(e)")
    assert e.names == ["a", "b", "c", "d", "e"]
    assert parse("relu(a) + sum(w) + max(w) + max(a, 0) + dot(w, v) + +a").names == ["a", "w", "v"]


def test_bindings():
    got = parse_bindings("a=2, b=-1.5e-1,w=[2,-3,-3]")
    assert list(got) == ["a", "b", "w"]
    np.testing.assert_array_equal(got["w"], [2.0, -3.0, -3.0])
    assert got["b"] == -0.15 and got["a"].dtype == np.float64
    for bad, msg in [
        ("a", "expected NAME=VALUE"),
        ("a=x", "'x' is not a number"),
        ("a=__import__('os')", "is not a number"),
        ("exp=1", "is a function name"),
        ("a=1,a=2", "given twice"),
        ("w=[" + ",".join(["1"] * 65) + "]", "at most 64 elements"),
    ]:
        with pytest.raises(ExplainError, match=msg):
            parse_bindings(bad)


def test_unbound_and_unused_names():
    with pytest.raises(
        ExplainError, match=r"b has no value: give it with --at b=\.\.\. \(column 3\)"
    ):
        explain("a*b", a=1)
    with pytest.raises(ExplainError, match="c is given a value but the expression does not use it"):
        explain("a*b", a=1, b=2, c=3)
    with pytest.raises(ExplainError, match="does not depend on any input"):
        explain("2*3")
    with pytest.raises(ExplainError, match=r"shape \(2,\); explain differentiates one number"):
        explain("w*2", w=[1, 2])
    with pytest.raises(ExplainError, match="dot needs two vectors of the same length"):
        explain("dot(w, v)", w=[1, 2], v=[1, 2, 3])


# ----- the command line -----
def test_cli_text_json_and_errors(capsys):
    assert cli.main(["(a+b)*(b+1)", "--at", "a=2,b=1", "--paths", "--numerical"]) == 0
    out = capsys.readouterr().out
    assert "∂n3/∂b  =  5" in out and "numerical check" in out and "paths from n3" in out

    assert (
        cli.main(["--at", "a=2", "--at", "b=1", "--json", "--paths", "--numerical", "(a+b)*(b+1)"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["gradients"] == {"a": 2.0, "b": 5.0}
    assert [f["node"] for f in data["forward"]] == ["a", "b", "n1", "n2", "n3"]
    assert data["backward"][0]["edges"][1] == {
        "to": "n2",
        "local": 3.0,
        "contribution": 3.0,
        "sum_so_far": 3.0,
        "arrival": 1,
    }
    assert data["paths"]["b"]["sum"] == 5.0 and data["multiplications"] == {
        "paths": 3,
        "backprop": 3,
    }
    assert data["numerical"]["b"] == pytest.approx(5.0, abs=1e-6)

    assert cli.main(["__import__('os').system('echo hi')", "--at", "a=1"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    assert err.err.startswith("chainrule explain: error: ") and "Traceback" not in err.err


def test_cli_as_a_module_prints_no_traceback(tmp_path):
    run = [sys.executable, "-m", "chainrule.cli.explain"]
    p = subprocess.run(run + ["open('/etc/passwd')"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    first = p.stderr.splitlines()[0]
    assert first == (
        "chainrule explain: error: call to 'open' is not allowed; the functions are exp, log, "
        "sqrt, tanh, sigmoid, relu, sum, max, dot (column 1)"
    )
    assert "Traceback" not in p.stderr
    svg = tmp_path / "e.svg"
    p = subprocess.run(
        run + ["(a+b)*(b+1)", "--at", "a=2,b=1", "--svg", str(svg)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "running sum at b: 2 + 3 = 5" in p.stdout
    from chainrule.viz import dot_binary

    if dot_binary() is not None:
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    else:
        assert "apt-get install graphviz" in p.stderr
