"""Dimension arguments as PyTorch's (API.md version 2): transpose swaps two dims, max/min with a
dim return values and indices, var/std are unbiased by default, recurrent layers are sequence
first. Each case runs the same program in chainrule and in PyTorch (float64) and compares
values and gradients."""

from __future__ import annotations

import numpy as np
import torch
from torch_compare import backward_both as _backward
from torch_compare import close as _close
from torch_compare import pair as _pair

import chainrule as cr
from chainrule import nn


def test_transpose_swaps_two_dims(float64, rng):
    x, xt = _pair(rng, 2, 3)
    _close(x.transpose(0, 1), xt.transpose(0, 1))
    y, yt = _pair(rng, 2, 3, 4)
    for a, b in [(0, 1), (0, 2), (-1, -2), (1, 1)]:
        _close(y.transpose(a, b), yt.transpose(a, b))
    _close(cr.transpose(y, 0, 2), torch.transpose(yt, 0, 2))
    _close(y.permute(2, 0, 1), yt.permute(2, 0, 1))
    _close(y.permute((1, 2, 0)), yt.permute((1, 2, 0)))
    _close(y.mT, yt.mT)
    _close(x.t(), xt.t())
    _backward(rng, y.transpose(0, 2) * 2, yt.transpose(0, 2) * 2)
    _close(y.grad, yt.grad)


def test_max_with_dim_returns_values_and_indices(float64, rng):
    x, xt = _pair(rng, 3, 4)
    values, indices = x.max(1)
    vt, it = xt.max(1)
    _close(values, vt)
    np.testing.assert_array_equal(indices.numpy(), it.numpy())
    r = x.min(dim=0, keepdim=True)
    rt = xt.min(dim=0, keepdim=True)
    _close(r.values, rt.values)
    np.testing.assert_array_equal(r.indices.numpy(), rt.indices.numpy())
    _close(x.max(), xt.max())
    _backward(rng, values, vt)
    _close(x.grad, xt.grad)


def test_max_with_dim_sends_the_gradient_to_the_selected_element_at_a_tie(float64):
    x = cr.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    xt = torch.tensor([[1.0, 3.0, 3.0]], dtype=torch.float64, requires_grad=True)
    x.max(1).values.sum().backward()
    xt.max(1).values.sum().backward()
    _close(x.grad, xt.grad)
    # without a dim the tie is shared, as torch.max() and amax
    x.grad = None
    xt.grad = None
    x.max().backward()
    xt.max().backward()
    _close(x.grad, xt.grad)


def test_recurrent_layers_are_sequence_first_by_default(float64, rng):
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 5).double()
    ours = nn.LSTM(3, 5)
    assert ours.batch_first is False
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x, xt = _pair(rng, 4, 2, 3)  # (T, N, D)
    out, (h, _) = ours(x)
    out_t, (h_t, _) = theirs(xt)
    _close(out, out_t)
    _close(h, h_t)
    assert nn.GRU(2, 3).batch_first is False and nn.RNN(2, 3).batch_first is False
    assert nn.MultiheadAttention(4, 2).batch_first is False


def test_var_and_std_are_unbiased_by_default(float64, rng):
    x, xt = _pair(rng, 3, 5)
    _close(x.var(), xt.var())
    _close(x.std(1), xt.std(1))
    _close(x.var(0, unbiased=False), xt.var(0, unbiased=False))
    _close(x.var(dim=1, correction=0, keepdim=True), xt.var(dim=1, correction=0, keepdim=True))
    _close(cr.std(x, dim=0), torch.std(xt, dim=0))
    _backward(rng, x.std(1), xt.std(1))
    _close(x.grad, xt.grad)
