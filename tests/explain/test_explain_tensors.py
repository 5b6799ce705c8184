"""explain with vectors and matrices: @, .T, sum, mean, the softmax family and the losses.

The worked example is Matt Mazur's "A Step by Step Backpropagation Example" (2-2-2 sigmoid
network, i1 = .05, i2 = .10, w1..w8 = .15 .. .55, b1 = .35, b2 = .60, targets .01 and .99),
written with matrices: its numbers come out line by line, and every gradient agrees with torch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, explain, parse_bindings
from chainrule.explain.bindings import Filled

MAZUR = "h = sigmoid(W1 @ x + b1); o = sigmoid(W2 @ h + b2); E = sum(0.5*(t - o)**2)"
MAZUR_AT = (
    "x=[0.05,0.10],W1=[[0.15,0.20],[0.25,0.30]],b1=0.35,"
    "W2=[[0.40,0.45],[0.50,0.55]],b2=0.60,t=[0.01,0.99]"
)


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_mazur_forward_values_line_by_line():
    got = lines(explain(MAZUR, MAZUR_AT).report())
    # Mazur: out_h1 = 0.593269992, out_h2 = 0.596884378, out_o1 = 0.75136507,
    # out_o2 = 0.772928465, E_total = 0.298371109 (6 significant digits in the text).
    assert "h sigmoid n2 2 [0.59327, 0.596884] sigmoid(W1 @ x + b1)" in got
    assert "o sigmoid n4 2 [0.751365, 0.772928] sigmoid(W2 @ h + b2)" in got
    assert "E sum n7 scalar 0.298371 sum(0.5*(t - o)**2)" in got
    assert "W1 input 2×2 [[0.15, 0.2], [0.25, 0.3]]" in got
    assert "n1 matmul W1, x 2 [0.0275, 0.0425] W1 @ x" in got


def test_mazur_backward_rules_line_by_line():
    got = lines(explain(MAZUR, MAZUR_AT).report())
    # ∂E/∂w5 = 0.082167041 and ∂E/∂w1 = 0.000438568 in Mazur's text.
    assert (
        "→ W2 local ∂n3/∂W2: δ hᵀ (an outer product, W2's shape) "
        "contribution [[0.082167, 0.0826676], [−0.0226025, −0.0227402]]"
    ) in got
    assert "→ h local ∂n3/∂h: W2ᵀ δ contribution [0.0363503, 0.0413703]" in got
    assert (
        "→ W1 local ∂n1/∂W1: δ xᵀ (an outer product, W1's shape) "
        "contribution [[0.000438568, 0.000877135], [0.000497713, 0.000995425]]"
    ) in got
    assert "o sigmoid (2), upstream δ = [0.741365, −0.217072]" in got
    assert "contribution = δ ⊙ σ'(n4), σ'(n4) = o ⊙ (1 − o)" in got
    assert "contribution = sum(δ) (summed back to scalar: the input was broadcast)" in got
    assert "contribution = δ broadcast to every element of n7 (shape 2)" in got
    assert "∂E/∂W2 = [[0.082167, 0.0826676], [−0.0226025, −0.0227402]]" in got


def _torch_mazur():
    T = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
    x, t = T([0.05, 0.10]), T([0.01, 0.99])
    W1, W2 = T([[0.15, 0.20], [0.25, 0.30]]), T([[0.40, 0.45], [0.50, 0.55]])
    b1, b2 = T(0.35), T(0.60)
    h = torch.sigmoid(W1 @ x + b1)
    o = torch.sigmoid(W2 @ h + b2)
    E = (0.5 * (t - o) ** 2).sum()
    E.backward()
    return E, dict(W1=W1, x=x, b1=b1, W2=W2, b2=b2, t=t)


def test_mazur_json_has_every_array_in_full_and_agrees_with_torch():
    data = explain(MAZUR, MAZUR_AT).to_dict()
    E, leaves = _torch_mazur()
    assert data["output"]["value"] == pytest.approx(E.item(), abs=1e-15)
    assert data["output"]["value"] == pytest.approx(0.298371109, abs=1e-9)
    for name, leaf in leaves.items():
        np.testing.assert_allclose(data["gradients"][name], leaf.grad.numpy(), rtol=1e-12)
    assert data["gradients"]["W2"][0][0] == pytest.approx(0.082167041, abs=1e-9)
    assert data["gradients"]["W1"][0][0] == pytest.approx(0.000438568, abs=1e-9)
    nodes = {n["node"]: n for n in data["forward"]}
    assert nodes["W1"]["shape"] == [2, 2] and nodes["E"]["shape"] == []
    assert nodes["h"]["value"] == pytest.approx([0.593269992, 0.596884378], abs=1e-9)
    step = next(s for s in data["backward"] if s["node"] == "n3")
    w2 = next(e for e in step["edges"] if e["to"] == "W2")
    assert w2["rule"] == "δ hᵀ (an outer product, W2's shape)"
    assert np.shape(w2["contribution"]) == (2, 2)
    assert step["statement"] == "(2) o = sigmoid(W2 @ h + b2)"


FUNCTIONS = (
    "L = mse(softmax(W.T @ x), t) + mean(log_softmax(x)) + sum(softplus(x) * silu(x))"
    " + sum(gelu(x) - leaky_relu(-x)) + cross_entropy(W @ x, k) + min(x) + max(W @ x)"
)


def test_every_new_function_agrees_with_torch():
    ex = explain(FUNCTIONS, at="W=[[1,-2],[0.5,0.3]],x=[0.7,-1.2],t=[0,1],k=1")
    T = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
    W, x, t = T([[1, -2], [0.5, 0.3]]), T([0.7, -1.2]), T([0.0, 1.0])
    tf = torch.nn.functional
    L = (
        tf.mse_loss(torch.softmax(W.T @ x, -1), t)
        + torch.log_softmax(x, -1).mean()
        + (tf.softplus(x) * tf.silu(x)).sum()
        + (tf.gelu(x) - tf.leaky_relu(-x)).sum()
        + tf.cross_entropy(W @ x, torch.tensor(1))
        + x.min()
        + (W @ x).max()
    )
    L.backward()
    assert float(ex.output.numpy()) == pytest.approx(L.item(), rel=1e-12)
    for name, leaf in dict(W=W, x=x, t=t).items():
        np.testing.assert_allclose(ex.gradients[name], leaf.grad.numpy(), rtol=1e-10)
    assert "k" in ex.fixed and "k" not in ex.gradients  # a class index takes no gradient
    text = ex.report()
    assert "δ − softmax(x) · Σ δ" in text
    assert "δ · (softmax(" in text and "onehot(k)" in text
    assert "δᵀ (the gradient transposed back)" in text


def test_a_shape_filled_from_the_seed_is_abbreviated_in_text_and_full_in_json():
    at = "W:30x784,x:784,b:30"
    ex = explain("L = sum(sigmoid(W @ x + b))", at, seed=3)
    assert ex.inputs["W"].shape == (30, 784)
    again = explain("L = sum(sigmoid(W @ x + b))", at, seed=3)
    np.testing.assert_array_equal(ex.inputs["W"].numpy(), again.inputs["W"].numpy())
    other = explain("L = sum(sigmoid(W @ x + b))", at, seed=4)
    assert not np.array_equal(ex.inputs["W"].numpy(), other.inputs["W"].numpy())
    text = lines(ex.report())
    first = ", ".join(f"{v:.6g}" for v in ex.inputs["W"].numpy().ravel()[:4])
    # The value: its shape and its first four numbers, as the pictures abbreviate.
    assert f"W input 30×784 30×784 [{first}, …]" in text
    assert any(line.startswith("∂L/∂W = 30×784 [") and line.endswith(", …]") for line in text)
    data = ex.to_dict()
    assert np.shape(data["gradients"]["W"]) == (30, 784)
    assert len(data["inputs"]["x"]) == 784


def test_bindings_of_matrices_and_shapes():
    got = parse_bindings("W=[[0.1,0.2],[0.3,0.4]],x=[1,2],V:3x4,u:5")
    np.testing.assert_array_equal(got["W"], [[0.1, 0.2], [0.3, 0.4]])
    assert got["V"] == Filled((3, 4)) and got["u"] == Filled((5,))
    for text, message in [
        ("W=[[1,2],[3]]", "rows of a matrix must have one length, got 2, 1"),
        ("W=[[1,2],3]", "is not a row of numbers"),
        ("W:3y4", "is not a shape"),
        ("W:0x3", "explain takes vectors and matrices of 1 to"),
        ("W:2x2x2", "explain takes vectors and matrices of 1 to"),
    ]:
        with pytest.raises(ExplainError, match=message.replace("(", r"\(")):
            parse_bindings(text)


@pytest.mark.parametrize(
    "expression, at, message",
    [
        (
            "z = W @ x; s = sum(z)",
            ["W=[[1,2,3],[4,5,6]]", "x=[1,2]"],
            "@: shapes (2, 3) and (2,) do not match: 3 columns against 2 rows, in the "
            "statement 'z = W @ x'",
        ),
        (
            "z = x + y; s = sum(z)",
            ["x=[1,2,3]", "y=[1,2]"],
            "+: shapes (3,) and (2,) do not broadcast together, in the statement 'z = x + y'",
        ),
        (
            "L = mse(x, y)",
            ["x=[1,2,3]", "y=[1,2]"],
            "mse: shapes (3,) and (2,) differ (mse compares two arrays of one shape), in the "
            "statement 'L = mse(x, y)'",
        ),
        (
            "s = sum(a @ x)",
            ["a=2", "x=[1,2]"],
            "@: shapes () and (2,) cannot be multiplied",
        ),
    ],
)
def test_a_shape_mismatch_is_one_line_naming_op_shapes_and_statement(
    capsys, expression, at, message
):
    assert cli.main([expression, "--at", *at]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("chainrule explain: error: " + message)


def test_cross_entropy_class_index_must_be_a_class():
    with pytest.raises(ExplainError, match="whole number from 0 to 2, got 3"):
        explain("cross_entropy(z, k)", at="z=[1,2,3],k=3")


def test_transpose_is_the_only_attribute():
    with pytest.raises(ExplainError, match=r"attribute access is not allowed \(only \.T"):
        explain("sum(W.real)", at="W=[[1,2],[3,4]]")
    ex = explain("sum(W.T @ x)", at="W=[[1,2],[3,4]],x=[1,1]")
    np.testing.assert_array_equal(ex.gradients["W"], [[1, 1], [1, 1]])


def test_cli_json_keeps_old_keys_and_adds_shapes(capsys):
    assert cli.main([MAZUR, "--at", MAZUR_AT, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"expression", "inputs", "output", "forward", "backward", "gradients"} <= set(data)
    assert data["inputs"]["W1"] == [[0.15, 0.2], [0.25, 0.3]]
    assert all("shape" in n for n in data["forward"])


def test_forward_mode_seeded_at_one_element_of_a_matrix():
    ex = explain("sum(sigmoid(W @ x))", at="W=[[1,2],[3,4]],x=[1,-1]")
    fp = ex.forward_mode("W[1,0]")
    assert fp.wrt == "W[1,0]"
    assert float(fp.tangent(ex.output)) == pytest.approx(float(ex.gradients["W"][1, 0]))
    with pytest.raises(ExplainError, match=r"W is a 2×2 matrix of 4 numbers .* --forward W\[0,0\]"):
        ex.forward_mode("W")
    with pytest.raises(ExplainError, match=r"--forward W\[1\]: W is a 2×2 matrix: name one"):
        ex.forward_mode("W[1]")
    with pytest.raises(ExplainError, match=r"--forward W\[2,0\]: W is a 2×2 matrix"):
        ex.forward_mode("W[2,0]")
