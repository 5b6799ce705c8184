"""flip, roll, tril and triu (the Flip, Roll and Triangle ops of chainrule/ops/shape.py) against
PyTorch on a float32 tensor holding infinities and NaN: values bit for bit and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CASES = {
    "flip": lambda x: x.flip(0, -1),
    "roll": lambda x: x.roll((3, -7), (2, 0)),
    "roll_flat": lambda x: x.roll(5),
    "tril": lambda x: x.tril(),
    "tril_above": lambda x: x.tril(2),
    "triu_below": lambda x: x.triu(-3),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, dtype):
    fn = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 30, 40)).astype(dtype)
    x[0, 0, -1], x[1, 2, 30], x[2, 5, 6] = np.inf, np.nan, -np.inf
    g = rng.normal(size=x.shape).astype(dtype)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = fn(xo), fn(xt)
    np.testing.assert_array_equal(yo.numpy(), yt.detach().numpy())
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(xo.grad.numpy(), xt.grad.numpy())


def test_the_result_is_a_copy():
    x = cr.tensor(np.arange(12.0).reshape(3, 4))
    for y in (x.flip(0), x.roll(1, 1), x.tril()):
        y.numpy()[...] = -1.0
    np.testing.assert_array_equal(x.numpy(), np.arange(12.0).reshape(3, 4))


def test_roll_out_of_range_dim_is_an_index_error_as_torch():
    with pytest.raises(IndexError):
        torch.zeros(2, 3).roll(1, 2)
    with pytest.raises(IndexError):
        cr.zeros(2, 3).roll(1, 2)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(3, 2), (0, 4), (5, 0, 1, 2)])
def test_pad_modes_match_torch(mode, pad):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 11) if len(pad) == 2 else (3, 4, 9, 11))  # PyTorch's ranks
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo = cr.nn.functional.pad(xo, pad, mode=mode)
    yt = torch.nn.functional.pad(xt, pad, mode=mode)
    np.testing.assert_array_equal(yo.numpy(), yt.detach().numpy())
    g = rng.normal(size=tuple(yt.shape))
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_second_derivative(mode):
    def gradient(x):
        y = cr.nn.functional.pad(x, (2, 1), mode=mode)
        (g,) = cr.grad((y * y * y).sum(), x, create_graph=True)
        return g

    x = cr.tensor(np.random.default_rng(2).normal(size=(2, 5)), requires_grad=True)
    assert cr.gradcheck(gradient, [x])
