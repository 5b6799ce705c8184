"""cumprod's gradient where the input holds zeros (one, several, first in its line), against
PyTorch, along every axis and on a large input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "shape, axis", [((5, 7), 1), ((4, 6, 3), 1), ((9,), 0), ((3, 5), 0), ((60, 300), -1)]
)
def test_gradient_at_zeros_matches_torch(shape, axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    x[rng.random(shape) < 0.2] = 0.0
    x.reshape(-1, shape[-1])[0, 0] = 0.0  # a line whose first entry is the zero
    g = rng.normal(size=shape)
    ours = cr.tensor(x, requires_grad=True)
    ours.cumprod(axis).backward(cr.tensor(g))
    theirs = torch.tensor(x, requires_grad=True)
    torch.cumprod(theirs, axis).backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
