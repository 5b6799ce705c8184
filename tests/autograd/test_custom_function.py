"""Custom autograd Functions (``cr.autograd.Function``) as PyTorch's: forward/backward with
``ctx``, gradients of gradients, several outputs, ``set_materialize_grads``, and how the
explain ledger and ``cr.compile`` treat them. Each case runs the same program in chainrule and
in PyTorch (float64) and compares values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_compare import backward_both as _backward
from torch_compare import close as _close
from torch_compare import pair as _pair

import chainrule as cr


# ----- custom autograd Functions -----
class _Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x**3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * ctx.scale, None


class _TorchCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x**3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * ctx.scale, None


def test_custom_function_matches_torch_and_gradcheck(float64, rng):
    x, xt = _pair(rng, 3, 2)
    y, yt = _Cube.apply(x, 0.5), _TorchCube.apply(xt, 0.5)
    _close(y, yt)
    _backward(rng, y, yt)
    _close(x.grad, xt.grad)
    assert cr.gradcheck(lambda a: _Cube.apply(a, 2.0), (cr.tensor(x.numpy(), requires_grad=True),))


def test_custom_function_backward_differentiated_again(float64, rng):
    x, xt = _pair(rng, 4)
    (g,) = cr.grad(_Cube.apply(x, 1.0).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad(_TorchCube.apply(xt, 1.0).sum(), xt, create_graph=True)
    _close(g, gt)
    (gg,) = cr.grad((g * g).sum(), x)
    (ggt,) = torch.autograd.grad((gt * gt).sum(), xt)
    _close(gg, ggt)


def test_custom_function_ctx_and_errors(float64):
    seen = {}

    class Scale(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            seen["needs"] = ctx.needs_input_grad
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g * w, g * x

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0])
    Scale.apply(x, w).sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])

    class Wrong(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match=r"Wrong\.backward returned 2 gradients"):
        Wrong.apply(x).sum().backward()
    y = Scale.apply(x, w)
    with cr.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def _split_function(base):
    """``(x², 2x·w, argmax x)`` with a hand-written backward, written once for both libraries
    (only their operators are used); the argmax is marked non-differentiable."""

    class Split(base):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            idx = x.argmax()
            ctx.mark_non_differentiable(idx)
            return x * x, 2 * x * w, idx

        @staticmethod
        def backward(ctx, g_sq, g_lin, g_idx):
            x, w = ctx.saved_tensors
            return g_sq * 2 * x + g_lin * 2 * w, (g_lin * 2 * x).sum(0)

    return Split


def test_custom_function_with_several_outputs_matches_torch(float64, rng):
    x, xt = _pair(rng, 3, 2)
    w, wt = _pair(rng, 2)
    sq, lin, idx = _split_function(cr.autograd.Function).apply(x, w)
    sqt, lint, idxt = _split_function(torch.autograd.Function).apply(xt, wt)
    assert not idx.requires_grad and not idxt.requires_grad and int(idx) == int(idxt)
    _close(sq, sqt)
    _close(lin, lint)
    u, v = rng.standard_normal((2, 3, 2))
    ((sq * cr.tensor(u)).sum() + (lin * cr.tensor(v)).sum()).backward()
    ((sqt * torch.tensor(u)).sum() + (lint * torch.tensor(v)).sum()).backward()
    _close(x.grad, xt.grad)
    _close(w.grad, wt.grad)


def test_custom_function_output_used_alone_gets_zeros_for_the_others(float64, rng):
    x, xt = _pair(rng, 3, 2)
    w, wt = _pair(rng, 2)
    _, lin, _ = _split_function(cr.autograd.Function).apply(x, w)
    _, lint, _ = _split_function(torch.autograd.Function).apply(xt, wt)
    lin.sum().backward()
    lint.sum().backward()
    _close(x.grad, xt.grad)
    _close(w.grad, wt.grad)
    assert cr.gradcheck(
        lambda a, b: _split_function(cr.autograd.Function).apply(a, b)[1],
        (cr.tensor(x.numpy(), requires_grad=True), cr.tensor(w.numpy(), requires_grad=True)),
    )


def test_custom_function_without_materialized_grads_sees_none(float64):
    seen = []

    class Two(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga is None, gb is None))
            return (0 if ga is None else ga * 2) + (0 if gb is None else gb * 3)

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a, _b = Two.apply(x)
    a.sum().backward()
    assert seen == [(False, True)]
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_custom_function_in_the_explain_ledger_and_grad(float64):
    from chainrule.explain import record

    a = cr.tensor(2.0, requires_grad=True)
    a.name = "a"
    b = _Cube.apply(a, 1.0)
    b.name = "b"
    e = b * a
    e.name = "e"
    report = str(record(e))
    assert "b     _Cube  a       8" in report
    assert "local ∂b/∂a = 12" in report  # 3a² from the user's backward
    assert "running sum at a: 8 + 24 = 32" in report
    (g,) = cr.grad(e, a)
    assert float(g) == 32.0


def test_custom_function_under_compile_falls_back_with_its_name(float64):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = _Cube.apply(w * x, 1.0).sum()
        loss.backward()
        opt.step()
        return loss

    fn = cr.compile(step)
    with pytest.warns(cr.jit.CompileWarning, match="custom autograd.Function _Cube"):
        first = fn(cr.ones(2))
    second = fn(cr.ones(2))
    assert float(first) == 9.0
    np.testing.assert_allclose(w.numpy(), [1 - 0.3 - 0.3 * 0.7**2, 2 - 1.2 - 0.3 * 0.8**2])
    assert float(second) == pytest.approx(0.7**3 + 0.8**3)
