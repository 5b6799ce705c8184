"""chainrule.explain.record(tensor) on a user's own program prints the same report as explain."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.explain import explain, record


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def named(value: float, name: str):
    t = cr.tensor(value, dtype=cr.float64, requires_grad=True)
    t.name = name
    return t


def test_record_prints_the_explain_report_with_the_tensors_names():
    a, b = named(2.0, "a"), named(1.0, "b")
    c = a + b
    c.name = "c"
    d = b + 1
    d.name = "d"
    e = c * d
    e.name = "e"
    got = lines(str(record(e)))
    want = lines(explain("c = a+b; d = b+1; e = c*d", a=2, b=1).report())
    backward = want[
        want.index(
            "backward pass (chainrule's order, output first; contribution = upstream × local)"
        ) :
    ]
    # The same backward pass and gradients, line for line (the inputs' order is the engine's).
    start = got.index(backward[0])
    assert sorted(got[start:]) == sorted(backward)
    assert got[0] == "record(e) at b = 1, a = 2"
    assert a.grad is None  # record does not touch .grad
    paths = record(e).report(paths=True)
    assert "sum of path products 2 + 3 = 5;  backpropagated 5  (equal)" in paths


def test_unnamed_tensors_get_labels_without_being_renamed():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    got = lines(record((w * w).sum()).report())
    assert "∂n2/∂x1 = [2, 4]" in got
    assert (
        "→ x1 local ∂n1/∂x1 = [1, 2] contribution [1, 1] × [1, 2] = [1, 2] running sum at x1: [1, 2] + [1, 2] = [2, 4]"
        in got
    )
    assert w.name is None


def test_recorded_ledger_has_no_numerical_check():
    from chainrule.explain.core import from_ledger

    x = named(3.0, "x")
    with pytest.raises(ValueError, match="no expression to evaluate again"):
        from_ledger(record(x * x)).numerical_check()
