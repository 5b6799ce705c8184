"""An LSTM cell's gates as nodes and boxes: ``with cr.explain.gates(): ...`` runs nn.LSTMCell
unfused, with the fused op's values bit for bit and its gradients to rounding (checked against
torch too)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


class Step(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x, hc):
        h, _ = self.cell(x, hc)
        return self.out(h)


def _data():
    cr.manual_seed(0)
    x = cr.randn(2, 3, requires_grad=True)
    return x, cr.randn(2, 4), cr.randn(2, 4)


def test_unfused_cell_equals_fused_and_torch():
    cr.manual_seed(1)
    cell = nn.LSTMCell(3, 4)
    x, h, c = _data()
    h1, c1 = cell(x, (h, c))
    with cr.explain.gates():
        h2, c2 = cell(x, (h, c))
        h3, c3 = cell(x[0], (h[0], c[0]))  # unbatched
    assert nn.LSTMCell.forward.__name__ == "forward"  # the fused forward again after the block
    h4, c4 = cell(x[0], (h[0], c[0]))
    assert np.array_equal(h1.detach().numpy(), h2.detach().numpy())
    assert np.array_equal(c1.detach().numpy(), c2.detach().numpy())
    assert tuple(h3.shape) == (4,) and np.array_equal(h3.detach().numpy(), h4.detach().numpy())
    assert np.array_equal(c3.detach().numpy(), c4.detach().numpy())
    params = [cell.weight_ih, cell.weight_hh, cell.bias_ih, x]
    g1 = cr.autograd.grad((h1 * h1).sum() + c1.sum(), params)
    g2 = cr.autograd.grad((h2 * h2).sum() + c2.sum(), params)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    t = torch.nn.LSTMCell(3, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(t, name).copy_(torch.from_numpy(getattr(cell, name).detach().numpy()))
    th, tc = t(
        torch.from_numpy(x.detach().numpy()),
        (torch.from_numpy(h.numpy()), torch.from_numpy(c.numpy())),
    )
    np.testing.assert_allclose(h2.detach().numpy(), th.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c2.detach().numpy(), tc.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_gates_are_named_nodes_in_boxes():
    m = Step()
    x, h, c = _data()
    with cr.explain.gates():
        loss = nn.functional.cross_entropy(m(x, (h, c)), cr.tensor([1, 0]))
    ex = cr.explain(loss, modules=m)
    text = ex.report()
    for gate, op in (("i", "sigmoid"), ("f", "sigmoid"), ("g", "tanh"), ("o", "sigmoid")):
        assert any(
            row.split()[:3] == [gate, f"cell.gate_{gate}", op] for row in text.splitlines()
        ), gate
    assert "c′" in text and "h′" in text and "lstm_cell" not in text
    # The engine's gradients with the gates unfused are the fused cell's, to rounding.
    fused = nn.functional.cross_entropy(m(x, (h, c)), cr.tensor([1, 0]))
    want = cr.autograd.grad(fused, [m.cell.weight_ih], retain_graph=True)[0].numpy()
    got = ex.gradients["cell.weight_ih"]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    # The page has a box per gate inside the cell's, and so has the picture.
    page = ex.html()
    for gate in ("gate_i", "gate_f", "gate_g", "gate_o", "cell_state", "hidden"):
        assert f'data-path="cell.{gate}"' in page
        assert f'label="cell.{gate}"' in ex.draw().source or f"cell.{gate}" in ex.draw().source
    # Without gates() the cell is one fused node.
    assert "lstm_cell" in cr.explain(fused, modules=m).report()


def test_cli_captioner_step_shows_the_gates(tmp_path, capsys):
    from chainrule.cli import explain as cli
    from chainrule.datasets import FashionScenes

    try:
        FashionScenes("train", size=1)
    except (OSError, RuntimeError, ValueError) as e:  # Fashion-MNIST is not installed here
        pytest.skip(f"Fashion Scenes unavailable: {e}")
    page = tmp_path / "step.html"
    assert cli.main(["--model", "captioner-step", "--batch", "1", "--html", str(page)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("one step of the captioner on Fashion Scenes (batch 1, first word 'a')")
    for gate in ("gate_i", "gate_f", "gate_g", "gate_o"):
        assert f"decoder.cell.{gate}" in text
    # The page has a box per gate, every box collapsed at this size (118 nodes).
    assert 'data-path="decoder.cell.gate_f"' in page.read_text()
    assert '"collapsed":true' in page.read_text()


def test_lstm_sequence_unfused_step_by_step():
    cr.manual_seed(2)
    for options in ({"num_layers": 2}, {"bidirectional": True, "batch_first": True}):
        lstm = nn.LSTM(3, 4, **options)
        x = cr.randn(5, 2, 3, requires_grad=True)
        fused, (h1, c1) = lstm(x)
        with cr.explain.gates():
            unfused, (h2, c2) = lstm(x)
        for a, b in ((fused, unfused), (h1, h2), (c1, c2)):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy()), options
        params = [lstm.weight_hh_l0, lstm.weight_ih_l0, x]
        g1 = cr.autograd.grad((fused**2).sum(), params)
        g2 = cr.autograd.grad((unfused**2).sum(), params)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    lstm = nn.LSTM(2, 3)
    with cr.explain.gates():
        out, _ = lstm(cr.randn(3, 1, 2))
    text = cr.explain(out.sum(), modules=lstm).report()
    # One box per layer, time step and gate: l0.t0.gate_i ... l0.t2.gate_o.
    for t in range(3):
        for gate in ("gate_i", "gate_f", "gate_g", "gate_o"):
            assert f"l0.t{t}.{gate}" in text
    assert "lstm_layer" not in text
