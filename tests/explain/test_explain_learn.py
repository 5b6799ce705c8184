"""explain --learn: gradient descent on one input, shown step by step, with the texts' numbers.

Trask's "Grokking Deep Learning", ch. 4, error = (input*weight - goal)**2 at weight 0.5: the texts'
weight_delta (pred - goal)*input is the derivative of ½ error, so their α is --lr α/2 here.
Mazur's 2-2-2 network: one update of W2 with learning rate 0.5 gives w5 = 0.35891648.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, LearningDiverged, explain

TRASK = "error = (input*weight - goal)**2"


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_overcorrection_at_input_10_goes_225_to_2205225():
    run = explain(TRASK, "input=10,weight=0.5,goal=-10").learn("weight", lr=0.5, steps=2)
    got = lines(run.report())
    assert "start: weight = 0.5, error = 225" in got
    # gradient 2·15·10 = 300, update −0.5·300 = −150, weight −149.5, error 1485² = 2,205,225.
    assert "1 0.5 225 300 −150 −149.5 2,205,225" in got
    assert "2 −149.5 2,205,225 −29700 14850 14700.5 21,613,410,225" in got
    assert any(line.startswith("note: this gradient is the true derivative") for line in got)
    assert "their α = 1 is --lr 0.5" in run.report()


def test_trask_input_2_alpha_1_overcorrects_and_alpha_01_converges():
    # The texts' α = 1: 0.04 → 0.36 → 3.24 → 29.16 (each error 9 times the last).
    big = explain(TRASK, "input=2,weight=0.5,goal=0.8").learn("weight", lr=0.5, steps=3)
    assert [u.new_output for u in big.updates] == pytest.approx([0.36, 3.24, 29.16])
    # The texts' α = 0.1: errors 0.04, 0.0144, 0.005184 (pred 1.0, 0.92, 0.8368).
    small = explain(TRASK, "input=2,weight=0.5,goal=0.8").learn("weight", lr=0.05, steps=70)
    assert [u.output for u in small.updates[:3]] == pytest.approx([0.04, 0.0144, 0.005184])
    assert float(small.updates[-1].new_value) == pytest.approx(0.4, abs=1e-12)


def test_each_gradient_is_the_backward_pass_at_the_current_value():
    run = explain("L = sum((W @ x - t)**2)", "W=[[1,2],[3,4]],x=[1,-1],t=[0,1]").learn(
        "W", lr=0.1, steps=3
    )
    W = torch.tensor([[1.0, 2], [3, 4]], dtype=torch.float64)
    x, t = torch.tensor([1.0, -1], dtype=torch.float64), torch.tensor([0.0, 1], dtype=torch.float64)
    for u in run.updates:
        Wt = W.clone().requires_grad_()
        L = ((Wt @ x - t) ** 2).sum()
        L.backward()
        np.testing.assert_allclose(u.value, W.numpy(), rtol=1e-12)
        np.testing.assert_allclose(u.gradient, Wt.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(u.update, -0.1 * Wt.grad.numpy(), rtol=1e-12)
        assert u.output == pytest.approx(L.item(), rel=1e-12)
        W = W - 0.1 * Wt.grad
        np.testing.assert_allclose(u.new_value, W.numpy(), rtol=1e-12)
    assert run.note is None  # a sum of squares: no single square to halve


def test_mazur_w5_after_one_update():
    mazur = "h = sigmoid(W1 @ x + b1); o = sigmoid(W2 @ h + b2); E = sum(0.5*(t - o)**2)"
    at = "x=[0.05,0.10],W1=[[0.15,0.20],[0.25,0.30]],b1=0.35,W2=[[0.40,0.45],[0.50,0.55]],b2=0.60,t=[0.01,0.99]"
    run = explain(mazur, at).learn("W2", lr=0.5, steps=1)
    # Mazur: w5+ = 0.35891648, w6+ = 0.408666186, w7+ = 0.511301270, w8+ = 0.561370121.
    np.testing.assert_allclose(
        run.updates[0].new_value, [[0.35891648, 0.408666186], [0.511301270, 0.561370121]], atol=1e-8
    )
    got = lines(run.report())
    assert "step 1: W2 = [[0.4, 0.45], [0.5, 0.55]], E = 0.298371" in got
    assert "gradient ∂E/∂W2 = [[0.082167, 0.0826676], [−0.0226025, −0.0227402]]" in got
    assert "new W2 = [[0.358916, 0.408666], [0.511301, 0.56137]]" in got
    assert "new E = 0.291029" in got


def test_cli_learn_prints_and_plots(tmp_path, capsys):
    png = tmp_path / "learn.png"
    argv = [TRASK, "--at", "input=2", "weight=0.5", "goal=0.8", "--learn", "weight"]
    assert cli.main([*argv, "--lr", "0.05", "--steps", "4", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "learning weight by gradient descent: weight ← weight − α·∂error/∂weight" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert cli.main([*argv, "--lr", "0.05", "--steps", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["new_output"] for s in data["steps"]] == pytest.approx([0.0144, 0.005184])
    svg = tmp_path / "learn.svg"
    assert cli.main(["L = sum(v*v)", "--at", "v=[1,2]", "--learn", "v", "--png", str(svg)]) == 0
    assert "<svg" in svg.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--learn", "q"], "--learn q: not an input of the expression; the inputs are a, b"),
        (["--learn", "e"], "--learn e: e is computed by a statement; --learn takes an input"),
        (["--learn", "a", "--steps", "0"], "--steps must be at least 1, got 0"),
        (["--learn", "a", "--steps", "-3"], "--steps must be at least 1, got -3"),
        (["--learn", "a", "--lr", "nan"], "--lr must be a positive finite number, got nan"),
    ],
)
def test_bad_learning_input_is_one_line_exit_2(capsys, extra, message):
    assert cli.main(["c = a+b; e = c*c", "--at", "a=2", "b=1", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"chainrule explain: error: {message}" or (
        err.startswith(f"chainrule explain: error: {message}") and "\n" not in err
    )


def test_non_scalar_output_is_one_line(capsys):
    assert cli.main(["c = a+b", "--at", "a=[1,2]", "b=1", "--learn", "a"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("chainrule explain: error: --learn a: the expression's value has shape")


def test_a_diverging_run_stops_at_the_step_that_overflowed(capsys):
    with pytest.raises(LearningDiverged, match="diverged at step 77: new error is inf") as info:
        explain(TRASK, "input=10,weight=0.5,goal=-10").learn("weight", lr=0.5, steps=200)
    assert info.value.step == 77 and "76 " in info.value.report
    argv = [TRASK, "--at", "input=10", "weight=0.5", "goal=-10", "--learn", "weight"]
    assert cli.main([*argv, "--lr", "0.5", "--steps", "200"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().count("\n") == 0
    assert "diverged at step 77" in captured.err
    assert lines(captured.out)[-3].startswith("77 ")  # the steps made are printed


def test_learn_refuses_a_bad_name_from_the_api():
    with pytest.raises(ExplainError, match="not an input"):
        explain("a*b", a=1, b=2).learn("z")


def test_the_plain_report_says_why_the_texts_numbers_are_half():
    # The issue's case: 3 here, 1.5 as the texts' weight_delta.
    ex = explain("error = (inputs*weight - goal)**2", "inputs=1.5,weight=1,goal=0.5")
    assert float(ex.gradients["weight"]) == 3.0
    assert lines(ex.report())[-1] == (
        "note: the output is a square, (inputs*weight - goal)², so each gradient carries its "
        "factor 2; the texts' weight_delta is the derivative of ½·(inputs*weight - goal)², half "
        "of these gradients"
    )
    assert "note: the output is a square" not in explain("a*b", a=1, b=2).report()
