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
