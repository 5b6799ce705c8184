"""Helpers for the tests that run one program in chainrule and in PyTorch (float64) and compare
values and gradients."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def pair(rng, *shape):
    """A chainrule and a torch leaf that require grad, holding the same normal draw of ``shape``."""
    x = rng.standard_normal(shape)
    return cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def pair_of(a: np.ndarray):
    """The same float64 values as a chainrule and a torch leaf that require grad."""
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def close(ours, theirs, atol=1e-12):
    """Asserts chainrule's ``ours`` (a Tensor or an array) equals torch's ``theirs`` to rtol 1e-10."""
    np.testing.assert_allclose(
        np.asarray(ours.numpy() if isinstance(ours, cr.Tensor) else ours),
        theirs.detach().numpy(),
        rtol=1e-10,
        atol=atol,
    )


def backward_both(rng, ours, theirs):
    """Backpropagates sum(out · u) with one random u (a uniform upstream hides transposes)."""
    u = rng.standard_normal(ours.shape)
    (ours * cr.tensor(u)).sum().backward()
    (theirs * torch.tensor(u)).sum().backward()
