"""The page and the ledger on vectors and matrices: what the merge of explain's language (``@``,
tensors) and the page at scale must agree on."""

from __future__ import annotations

import numpy as np
from test_explain_page import data_of

import chainrule as cr
from chainrule import nn
from chainrule.cli import explain as cli
from chainrule.explain import explain, record
from chainrule.explain.local import formula, num

MAZUR = "h = sigmoid(W1 @ x + b1); o = sigmoid(W2 @ h + b2); E = sum(0.5*(t - o)**2)"
MAZUR_AT = [
    "x=[0.05,0.10]",
    "W1=[[0.15,0.20],[0.25,0.30]]",
    "b1=0.35",
    "W2=[[0.40,0.45],[0.50,0.55]]",
    "b2=0.60",
    "t=[0.01,0.99]",
]


def _labels(page: str) -> dict[str, list[str]]:
    """Each edge's last backward label, by '<source head> -> <destination head>'."""
    data = data_of(page)
    head = {n["id"]: n["head"] for n in data["nodes"]}
    by_id = {e["id"]: f"{head[e['src']]} -> {head[e['dst']]}" for e in data["edges"]}
    return {by_id[k]: [p[1] for p in v] for k, v in data["steps"][-1]["edges"].items()}


def test_html_on_mazurs_matrix_network(tmp_path, capsys):
    # (On explainlang's branch this crashed: the page placed nodes with `t in inputs`, which
    # compares tensors by value; explainpage's layout goes by identity.)
    out = tmp_path / "mazur.html"
    assert cli.main([MAZUR, "--at", *MAZUR_AT, "--html", str(out)]) == 0
    labels = _labels(out.read_text())
    w2 = labels["W2 -> n3 = W2 @ h"]
    h = labels["h = σ(n2) -> n3 = W2 @ h"]
    # The matrix product's edges give the texts' rules, not "upstream × local".
    assert w2 == ["δ hᵀ", "= 2×2 [0.0822, 0.0827, −0.0226, …]"]
    assert h == ["W2ᵀ δ", "= [0.0364, 0.0414]"]
    b2 = labels["b2 -> n4 = n3 + b2"]
    assert b2 == ["local [1, 1]", "sum(δ) = 0.1004"]  # a scalar bias: summed back
    # An elementwise edge keeps its numbers: δ ⊙ σ'(z).
    o = labels["n4 = n3 + b2 -> o = σ(n4)"]
    assert o == ["local [0.187, 0.176]", "[0.741, −0.217] ⊙ [0.187, 0.176] = [0.138, −0.0381]"]
    assert labels["n7 = 0.5 × n6 -> E = sum(n7)"] == ["local [1, 1]", "1 × [1, 1] = [1, 1]"]


def test_recorded_mlp_ledger_reads_linear_as_the_texts_do():
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 1))
    x = cr.randn(1, 4)
    loss = ((m(x) - cr.tensor([[1.0]])) ** 2).mean()
    text = record(loss).report(paths=True)
    assert "δᵀ" in text and "⊙ local" not in text  # linear's weight: δᵀ a, not an elementwise ⊙
    assert "Σ δ" in text  # its bias: δ summed over the batch
    page = cr.explain(loss, modules=m).html()
    assert "δᵀ data1" in page and "δ 2.weight" in page  # the page says the same


def test_shape_one_arrays_and_long_arrays_print_short():
    # A (1,)-shaped operand reaches the formulas' float(): it must be read as its one number.
    ex = explain("s = sum(a*b)", a=np.array([2.0]), b=np.array([3.0]))
    assert "∂n1/∂a = b = 3" in ex.report()
    step = ex.ledger.steps[-1]
    assert formula(step, 0, ex.ledger.local(step, 0), ex.name) is not None
    # The page's panel then shows the ledger's rows with their formulas, as for numbers.
    lines = [text for st in data_of(ex.html())["steps"] for _, text in st["lines"]]
    assert "    ∂n1/∂a = b = 3" in lines
    # Beyond 16 numbers an array is its shape and first numbers, in num, the title and the
    # bindings, as in the ledger.
    assert num(np.arange(40.0).reshape(5, 8)) == "5×8 [0, 1, 2, 3, …]"
    ex = explain("s = sum(W @ x)", "W:30x784,x:784")
    assert len(ex.title) < 200 and "30×784 [" in ex.title
    assert len(ex.bindings_text()) < 200
