"""The backward walk's running totals: a tensor that several ops read gets the sum of their
gradients, and from the second arrival on the walk adds into the sum it made, in place. These
tests check that this never changes a gradient (against PyTorch), never writes into an array a VJP
handed out (Add gives one array to both inputs), never aliases a leaf's ``.grad`` with another,
and that ``cr.compile`` replays the in-place sums to the bit."""

from __future__ import annotations

import numpy as np
import torch

import chainrule as cr


def _fan_out(lib, x, w):
    """x and w read by many ops: w at every step of a small unrolled loop, x through an Add
    with itself (whose VJP hands one array to both inputs)."""
    y = x + x
    s = (y * w).sum()
    h = x
    for k in range(5):
        h = (h * w + y).tanh() + k * w
        s = s + (h * h).sum()
    return s + (y * y).sum()


def test_gradients_of_values_read_many_times_match_torch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 4, 3))
    x, w = (cr.tensor(v, requires_grad=True) for v in (a, b))
    tx, tw = (torch.tensor(v, requires_grad=True) for v in (a, b))
    _fan_out(cr, x, w).backward()
    _fan_out(torch, tx, tw).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_a_leaf_grad_from_a_sum_is_its_own_array():
    x = cr.tensor(np.ones(3), requires_grad=True)
    u = x * 2
    z = u + u + u  # x's gradient is a sum; the Adds' VJPs hand the same array to two inputs
    (z * z).sum().backward()
    g = x.grad.numpy().copy()
    x2 = cr.tensor(np.ones(3), requires_grad=True)
    (x2 * 3).sum().backward()
    x.grad.numpy()[:] = 0  # writing one .grad leaves the other untouched
    assert not np.shares_memory(x.grad.numpy(), x2.grad.numpy())
    np.testing.assert_array_equal(x2.grad.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(g, [72.0, 72.0, 72.0])  # d/dx (6x)^2 = 72x


def test_retained_intermediate_and_autograd_grad_get_the_final_sum():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    u = x * 3
    u.retain_grad()
    s = (u * u).sum() + u.sum() + (2 * u).sum()
    (gx,) = cr.autograd.grad(s, [x], retain_graph=True)
    s.backward()
    np.testing.assert_array_equal(u.grad.numpy(), 2 * u.detach().numpy() + 3)
    np.testing.assert_array_equal(gx.numpy(), 3 * (2 * u.detach().numpy() + 3))
    np.testing.assert_array_equal(x.grad.numpy(), gx.numpy())


def test_compiled_step_with_in_place_sums_equals_eager_bitwise():
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]

    def run(compiled: bool):
        cr.manual_seed(0)
        w = cr.nn.Parameter(cr.randn(4, 3))
        opt = cr.optim.SGD([w], lr=0.01)

        def step(xb):
            loss = _fan_out(cr, cr.from_numpy(xb), w)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = cr.compile(step) if compiled else step
        losses = [fn(b).numpy().copy() for b in batches]
        return losses, w.detach().numpy().copy(), fn

    eager, w_eager, _ = run(False)
    replayed, w_replayed, fn = run(True)
    assert fn.stats()["replays"] == 3
    assert " += " in fn.replay_source()  # w's later gradients are added into its sum in place
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(w_eager, w_replayed)
