"""A VJP's fresh array may become .grad uncopied (engine._claim): never one another tensor,
the caller or a later backward call can reach."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def _leaf():
    return cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)


def test_fan_out_sums_into_the_first_arrival():
    x = _leaf()
    (x * 2 + x * 3).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.full((2, 3), 5.0))


def test_two_backward_calls_add_and_leave_the_first_grad_alone():
    x = _leaf()
    y = x.sigmoid()
    g = cr.tensor(np.ones((2, 3)))
    y.backward(g, retain_graph=True)
    first = x.grad
    kept = first.numpy().copy()
    y.backward(g)
    assert np.allclose(x.grad.numpy(), 2 * kept)
    assert np.array_equal(first.numpy(), kept)


def test_writing_one_grad_leaves_the_others():
    a, b = _leaf(), _leaf()
    ((a * b) + (a - b)).sum().backward()
    want = b.grad.numpy().copy()
    a.grad.numpy()[...] = 99.0
    assert np.array_equal(b.grad.numpy(), want)
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())


def test_add_gives_one_array_to_both_inputs_and_each_grad_is_its_own():
    a, b = _leaf(), _leaf()
    (a + b).backward(cr.tensor(np.full((2, 3), 2.0)))
    a.grad.numpy()[...] = 7.0
    assert np.array_equal(b.grad.numpy(), np.full((2, 3), 2.0))


def test_the_callers_gradient_is_never_grad():
    x = _leaf()
    g = cr.tensor(np.ones((2, 3)))
    (x * 1).backward(g)
    x.flatten().backward(g.flatten())
    g.numpy()[...] = 50.0
    assert np.array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_a_retained_grad_is_not_the_leafs():
    x = _leaf()
    h = x * 3
    h.retain_grad()
    (h * 2).sum().backward()
    h.grad.numpy()[...] = -1.0
    assert np.array_equal(x.grad.numpy(), np.full((2, 3), 6.0))


def test_writing_grad_between_retained_calls_changes_no_later_gradient():
    x, ref = _leaf(), _leaf()
    y = cr.nn.functional.gelu(x)
    y.sum().backward(retain_graph=True)
    x.grad.numpy()[...] = 0.0
    y.sum().backward()
    cr.nn.functional.gelu(ref).sum().backward()
    assert np.array_equal(x.grad.numpy(), ref.grad.numpy())


def test_a_custom_functions_array_is_copied():
    kept = np.full((2, 3), 4.0)

    class Keep(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return cr.from_numpy(kept)  # an array the caller keeps

    x = _leaf()
    Keep.apply(x).sum().backward()
    x.grad.numpy()[...] = 0.0
    assert np.array_equal(kept, np.full((2, 3), 4.0))
