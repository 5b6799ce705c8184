"""sin, cos and abs in chainrule explain's expression language, and the Sin/Cos ops behind them,
against PyTorch in float64 (first and second derivatives, forward mode)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import ops
from chainrule.autograd.tensor import apply
from chainrule.explain import explain


@pytest.mark.parametrize(
    "text, fn",
    [
        ("f = cos(x**2 - 1)", lambda x, y: torch.cos(x**2 - 1)),
        ("f = sin(x*y) + cos(y)", lambda x, y: torch.sin(x * y) + torch.cos(y)),
        ("f = abs(x - y) * sin(x)", lambda x, y: torch.abs(x - y) * torch.sin(x)),
    ],
)
def test_explain_functions_against_torch(text, fn):
    values = {"x": 2.0, "y": -0.7}
    ex = explain(text, **{k: v for k, v in values.items() if k in text})
    tx = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    out = fn(tx["x"], tx["y"])
    out.backward()
    assert float(ex.output.numpy()) == pytest.approx(out.item(), rel=1e-14)
    for k, g in ex.gradients.items():
        assert float(g) == pytest.approx(tx[k].grad.item(), rel=1e-13), k


def test_cos_ledger_line():
    lines = [" ".join(s.split()) for s in explain("f = cos(x**2 - 1)", x=2).report().splitlines()]
    want = f"∂f/∂n2 = \u2212sin n2 = \u2212sin 3 = {-np.sin(3):.6g}"
    assert want.replace("-", "\u2212") in lines


@pytest.mark.parametrize("op, tfn", [(ops.Sin, torch.sin), (ops.Cos, torch.cos)])
def test_sin_cos_second_derivative_and_jvp(op, tfn):
    x0 = np.array([0.3, -1.2, 2.5])
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    (g,) = cr.grad(apply(op(), x).sum(), [x], create_graph=True)
    (gg,) = cr.grad(g.sum(), [x])
    tx = torch.tensor(x0, requires_grad=True)
    (tg,) = torch.autograd.grad(tfn(tx).sum(), [tx], create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-14)
    v = np.array([1.0, -2.0, 0.5])
    _, t = cr.jvp(lambda a: apply(op(), a), cr.tensor(x0), cr.tensor(v))
    _, tt = torch.func.jvp(tfn, (torch.tensor(x0),), (torch.tensor(v),))
    np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-14)
