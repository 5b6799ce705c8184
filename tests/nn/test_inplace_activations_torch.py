"""In-place activations and dropout (``inplace=True``, ``F.relu_``) overwrite their input as
PyTorch's do, beside PyTorch (float64, values and gradients of a random upstream gradient).
Moved unchanged from test_views_inplace_torch.py, with the helpers they use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(27)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((3, 4))
U = RNG.standard_normal((3, 4))


def _run(fn, lib):
    """fn(lib, x, w) -> out; returns out's values and the gradients of x and w for the upstream
    gradient U (sum of out * U)."""
    x, w = lib.tensor(X, requires_grad=True), lib.tensor(W, requires_grad=True)
    out = fn(lib, x, w)
    (out * lib.tensor(np.resize(U, tuple(out.shape)))).sum().backward()
    return out.detach().numpy().copy(), [t.grad.numpy().copy() for t in (x, w)]


def _same_as_torch(fn):
    ours, theirs = _run(fn, cr), _run(fn, torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    for g, gt in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(g, gt, rtol=1e-12, atol=1e-12)


# ----- in-place activations and dropout -----
ACTIVATIONS = {
    "ReLU": lambda L, x: L.nn.ReLU(inplace=True)(x),
    "F.relu": lambda L, x: L.nn.functional.relu(x, inplace=True),
    "relu_": lambda L, x: L.relu_(x) if L is torch else F.relu_(x),
    "LeakyReLU": lambda L, x: L.nn.LeakyReLU(0.2, inplace=True)(x),
    "ELU": lambda L, x: L.nn.ELU(0.7, inplace=True)(x),
    "SiLU": lambda L, x: L.nn.SiLU(inplace=True)(x),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_activations_overwrite_their_input_as_torch(name):
    def fn(L, x, w):
        y = x * w
        out = ACTIVATIONS[name](L, y)
        assert out is y  # the input itself, overwritten
        return out * w

    _same_as_torch(fn)


def test_in_place_activation_then_a_write_into_its_saved_result_is_refused_as_torch():
    for lib in (cr, torch):
        y = lib.tensor(X, requires_grad=True) * 1
        lib.nn.ReLU(inplace=True)(y)
        lib.nn.functional.dropout(y, 0.5, True, inplace=True)
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation"):
            y.sum().backward()


def test_dropout_in_place_overwrites_its_input_with_the_right_gradient():
    cr.manual_seed(3)
    x = cr.tensor(np.abs(X) + 1, requires_grad=True)
    y = x * 1
    out = nn.Dropout(0.4, inplace=True)(y)
    assert out is y
    mask = y.detach().numpy() / (np.abs(X) + 1)  # 0 or 1 / (1 - p)
    assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / 0.6, 12)}
    (y * cr.tensor(U)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), mask * U, rtol=1e-12)
    with pytest.raises(RuntimeError, match="a leaf"):
        nn.Dropout(inplace=True)(cr.tensor(X, requires_grad=True))
    frozen = nn.Dropout(0.4, inplace=True).eval()
    assert frozen(y) is y
