"""Where explain takes its functions and derivative texts from: the language's calls are the
public functions (cr.X, F.X), and an op's derivative text is read from the op class."""

from __future__ import annotations

import pytest

import chainrule as cr
import chainrule.autograd.tensor_math as tm
import chainrule.nn.functional as F
from chainrule.explain import explain, functions
from chainrule.explain.functions import FUNCTIONS
from chainrule.explain.parser import FUNCTIONS as ARITIES
from chainrule.ops.base import ExplainText
from chainrule.ops.elementwise import Sin

PUBLIC = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs"]


@pytest.mark.parametrize("name", PUBLIC)
def test_call_is_the_public_function(name):
    assert FUNCTIONS[name].call is getattr(cr, name)


@pytest.mark.parametrize("name", ["softplus", "silu", "gelu", "leaky_relu"])
def test_call_is_the_functional_function(name):
    assert FUNCTIONS[name].call is getattr(F, name)


def test_parser_accepts_exactly_the_table():
    assert ARITIES == {n: (f.fewest, f.most) for n, f in FUNCTIONS.items()}


def test_unary_ops_with_text_are_functions_of_the_language(monkeypatch):
    """The table takes every op class with ``explain`` text that ``cr.X`` applies; erf has text
    (for gelu's inner node) but no cr.erf, so it is not a function of the language."""
    assert set(functions._explained_ops()) == set(PUBLIC)
    assert "erf" not in FUNCTIONS

    # Given a cr.erf, erf is one: the op class is the one place.
    monkeypatch.setattr(tm, "erf", lambda x: x, raising=False)
    assert functions._explained_ops()["erf"] == functions.Function(1, 1, tm.erf)


def test_derivative_text_is_read_from_the_op_class(monkeypatch):
    """Changing Sin's attributes changes the ledger's formula and the vector rule: the texts
    have no other source."""
    texts = ExplainText(scalar=("COS({x}) of {y}", "COS {x}"), prime=("SIN'({x})", "COS {x}"))
    monkeypatch.setattr(Sin, "explain", texts)
    report = explain("sin(a)", a=0.5).report()
    assert "∂n1/∂a = COS(a) of n1 = COS 0.5 = 0.877583" in report
    vector = explain("sum(sin(v))", v=[0.5, 1.0]).report()
    assert "SIN'(v) = COS v" in vector
