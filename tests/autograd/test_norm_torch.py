"""The p-norm (``cr.norm``, ``x.norm``) and the functions built on it (``F.normalize``,
``F.cosine_similarity``), values and gradients against PyTorch: at a slice whose norm is 0 the
norm's gradient is 0, as PyTorch's (a root's infinite derivative there gave NaN), and ties of
the inf-norm share the gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F

# A zero row (norm 0), a row with a tie of its largest |x| (inf-norm), a plain row.
ROWS = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0], [0.5, 1.5, -3.0]])
PS = [2.0, "fro", 1.0, 3.0, 1.5, float("inf"), float("-inf")]


def _grads(fn_cr, fn_torch):
    """The input's gradient under a random (non-uniform) upstream gradient, from both."""
    x = cr.tensor(ROWS, requires_grad=True)
    t = torch.tensor(ROWS, requires_grad=True)
    out, ref = fn_cr(x), fn_torch(t)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(0).standard_normal(tuple(out.shape))
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    return x.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("p", PS)
def test_norm_along_a_dim_matches_torch_with_a_zero_slice(p):
    got, want = _grads(lambda x: x.norm(p, 1), lambda t: t.norm(p, 1))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_normalize_matches_torch_with_a_zero_row(p):
    got, want = _grads(
        lambda x: F.normalize(x, p=p), lambda t: torch.nn.functional.normalize(t, p=p)
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-6)


def test_cosine_similarity_matches_torch_away_from_zero():
    other = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0], [2.0, 0.0, 1.0]])
    got, want = _grads(
        lambda x: F.cosine_similarity(x + 1.0, cr.tensor(other)),
        lambda t: torch.nn.functional.cosine_similarity(t + 1.0, torch.tensor(other)),
    )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
