"""nn.ParameterList (registration, names and gradients as PyTorch's) and the
``chainrule.nn.modules.*`` import paths holding every class PyTorch keeps there."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


# ----- ParameterList -----
def test_parameter_list_registers_and_names_as_torch(float64):
    ps = nn.ParameterList([nn.Parameter(np.ones(3)), cr.zeros(2, 2)])
    ps.append(np.full(4, 2.0))
    ps += [nn.Parameter(np.zeros(1))]
    assert len(ps) == 4
    assert all(isinstance(p, nn.Parameter) for p in ps)
    assert [n for n, _ in ps.named_parameters()] == ["0", "1", "2", "3"]
    assert ps[-1] is ps[3]
    assert len(ps[1:3]) == 2

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(np.ones((2, 3))) for _ in range(2)])

        def forward(self, x):
            for w in self.ws:
                x = x @ w.T
            return x

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.ones(2, 3)) for _ in range(2)]
            )

    m = M()
    assert list(m.state_dict()) == list(T().state_dict()) == ["ws.0", "ws.1"]
    ps[0] = nn.Parameter(np.zeros(5))
    assert ps[0].shape == (5,)
    with pytest.raises(TypeError, match="ParameterList"):
        ps.append("w")
    with pytest.raises(IndexError, match="ParameterList"):
        ps[7]


def test_parameter_list_gradients_reach_each_parameter(float64, rng):
    ps = nn.ParameterList([nn.Parameter(rng.standard_normal(3)) for _ in range(3)])
    loss = (ps[0] * ps[1] * ps[2]).sum()
    loss.backward()
    a, b, c = (p.numpy() for p in ps)
    np.testing.assert_allclose(ps[0].grad.numpy(), b * c)
    np.testing.assert_allclose(ps[2].grad.numpy(), a * b)


# ----- chainrule.nn.modules.* paths -----
MODULE_FILES = [
    "activation",
    "batchnorm",
    "container",
    "conv",
    "dropout",
    "flatten",
    "linear",
    "loss",
    "module",
    "normalization",
    "pooling",
    "rnn",
    "sparse",
    "transformer",
    "upsampling",
]


@pytest.mark.parametrize("file", MODULE_FILES)
def test_nn_modules_paths_hold_every_class_torch_keeps_there(file):
    """Each class chainrule has is importable from the ``nn.modules`` file PyTorch keeps it in,
    and is the very class ``cr.nn`` exports."""
    import importlib

    ours = importlib.import_module(f"chainrule.nn.modules.{file}")
    theirs = importlib.import_module(f"torch.nn.modules.{file}")
    names = [n for n in getattr(theirs, "__all__", dir(theirs)) if hasattr(nn, n)]
    names = [n for n in names if isinstance(getattr(theirs, n), type)]
    assert names, file
    for n in names:
        assert getattr(ours, n) is getattr(nn, n), f"chainrule.nn.modules.{file}.{n}"
        assert getattr(nn.modules, n) is getattr(nn, n)


def test_nn_modules_import_statements():
    from chainrule.nn.modules.activation import MultiheadAttention, ReLU
    from chainrule.nn.modules.linear import Linear

    assert Linear is nn.Linear and ReLU is nn.ReLU and MultiheadAttention is nn.MultiheadAttention
