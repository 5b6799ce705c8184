"""PyTorch's meanings (API.md version 2): in-place writes that autograd records, version
counters, transpose/permute, max/min with a dim, var/std, the recurrent layout. Each case runs
the same program in chainrule and in PyTorch (float64) and compares values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


def _pair(rng, *shape):
    x = rng.standard_normal(shape)
    return cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _close(ours, theirs, atol=1e-12):
    np.testing.assert_allclose(
        np.asarray(ours.numpy() if isinstance(ours, cr.Tensor) else ours),
        theirs.detach().numpy(),
        rtol=1e-10,
        atol=atol,
    )


def _backward(rng, ours, theirs):
    """Backpropagates sum(out · u) with one random u (a uniform upstream hides transposes)."""
    u = rng.standard_normal(ours.shape)
    (ours * cr.tensor(u)).sum().backward()
    (theirs * torch.tensor(u)).sum().backward()


# ----- the five idioms of the issue -----
def test_assignment_into_a_buffer_carries_the_gradient(float64):
    w = cr.ones(2, requires_grad=True)
    buf = cr.zeros(3, 2)
    buf[0] = w * 3
    (buf.sum() + w.sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0])


def test_hand_written_sgd_updates_the_parameter_in_place(float64):
    p = cr.tensor([1.0, -2.0], requires_grad=True)
    same = p
    (p * p).sum().backward()
    with cr.no_grad():
        p -= 0.1 * p.grad
    assert p is same and p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6])


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


# ----- in-place methods against PyTorch -----
INPLACE = {
    "add_": lambda t, o: t.add_(o),
    "add_alpha": lambda t, o: t.add_(o, alpha=0.5),
    "sub_": lambda t, o: t.sub_(o),
    "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o + 3.0),
    "pow_": lambda t, o: t.abs_().pow_(o.abs() + 1.0),
    "pow_scalar": lambda t, o: t.pow_(2),
    "clamp_": lambda t, o: t.clamp_(-0.5, 0.5),
    "copy_": lambda t, o: t.copy_(o),
    "masked_fill_": lambda t, o: t.masked_fill_(o > 0, 2.0),
    "iadd": lambda t, o: t.__iadd__(o),
    "isub": lambda t, o: t.__isub__(o),
    "imul": lambda t, o: t.__imul__(o),
    "itruediv": lambda t, o: t.__itruediv__(o + 3.0),
    "exp_": lambda t, o: t.exp_(),
    "tanh_": lambda t, o: t.tanh_(),
    "sigmoid_": lambda t, o: t.sigmoid_(),
    "relu_": lambda t, o: t.relu_(),
    "neg_": lambda t, o: t.neg_(),
    "zero_": lambda t, o: t.zero_(),
    "fill_": lambda t, o: t.fill_(1.5),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
@pytest.mark.parametrize("other_shape", [(3, 4), (4,)], ids=["same", "broadcast"])
def test_inplace_on_an_intermediate_matches_torch(float64, rng, name, other_shape):
    x, xt = _pair(rng, 3, 4)
    o, ot = _pair(rng, *other_shape)
    y, yt = x * 1.5, xt * 1.5  # a non-leaf, written in place
    r = INPLACE[name](y, o)
    INPLACE[name](yt, ot)
    assert r is y
    _close(y, yt)
    _backward(rng, y * x, yt * xt)
    _close(x.grad, xt.grad)
    if ot.grad is None:
        assert o.grad is None or not o.grad.numpy().any()
    else:
        _close(o.grad, ot.grad)


@pytest.mark.parametrize("name", ["add_", "mul_", "clamp_", "zero_", "fill_", "copy_"])
def test_inplace_under_no_grad_changes_the_leaf(float64, rng, name):
    x, xt = _pair(rng, 3, 4)
    o, ot = _pair(rng, 3, 4)
    with cr.no_grad():
        INPLACE[name](x, o)
    with torch.no_grad():
        INPLACE[name](xt, ot)
    _close(x, xt)
    assert x.is_leaf and x.requires_grad and x._version == xt._version


def test_inplace_on_a_leaf_that_requires_grad_is_refused(float64):
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad.*no_grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor"):
        x[0] = 2.0


# ----- assignment with each kind of index -----
INDICES = {
    "int": (1,),
    "slice": (slice(0, 2),),
    "int_slice": (1, slice(1, 3)),
    "int_array": (np.array([0, 2]),),
    "bool_mask": (np.array([True, False, True]),),
    "row_col_arrays": (np.array([0, 2]), np.array([1, 3])),
}


@pytest.mark.parametrize("index", sorted(INDICES))
@pytest.mark.parametrize("who", ["value", "target", "both"])
@pytest.mark.parametrize("broadcast", [False, True])
def test_assignment_matches_torch(float64, rng, index, who, broadcast):
    idx = INDICES[index]
    base = rng.standard_normal((3, 4))
    target_shape = base[idx].shape
    vshape = target_shape[-1:] if broadcast and target_shape else target_shape
    v, vt = _pair(rng, *vshape)
    b, bt = _pair(rng, 3, 4)
    t = b * 2.0 if who != "value" else cr.tensor(base)
    tt = bt * 2.0 if who != "value" else torch.tensor(base)
    val, valt = (v * 1.0, vt * 1.0) if who != "target" else (v.detach(), vt.detach())
    t[idx] = val
    tt[tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in idx)] = valt
    _close(t, tt)
    if not tt.requires_grad:
        return
    _backward(rng, t, tt)
    if who != "value":
        _close(b.grad, bt.grad)
    if who != "target":
        _close(v.grad, vt.grad)


# ----- views and the version counter -----
def test_views_share_storage_with_their_base(float64):
    x = cr.zeros(2, 3)
    x[0].fill_(1.0)
    x.view(6)[5] = 7.0
    x.transpose(0, 1)[0, 1] = 4.0
    x[:, 1:2].zero_()
    xt = torch.zeros(2, 3, dtype=torch.float64)
    xt[0].fill_(1.0)
    xt.view(6)[5] = 7.0
    xt.transpose(0, 1)[0, 1] = 4.0
    xt[:, 1:2].zero_()
    _close(x, xt)


def test_a_value_changed_after_it_was_saved_is_an_error_not_a_wrong_gradient(float64):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    with cr.no_grad():
        y.mul_(2)  # exp's backward needs its result
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*exp.*version 1"):
        y.sum().backward()
    a = x * 2
    b = a * a
    a.add_(1)  # b's multiplication used the old a
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        b.sum().backward()
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    z = (w * x).sum()
    with cr.no_grad():
        w[0] = 5.0  # through a view of the storage the product saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_an_inplace_write_after_backward_is_fine(float64):
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        loss = (p * p).sum()
        p.grad = None
        loss.backward()
        with cr.no_grad():
            p.sub_(0.25 * p.grad)
    np.testing.assert_allclose(p.numpy(), np.array([1.0, 2.0]) * 0.5**3)


def test_writing_into_an_expanded_view_is_a_clear_error(float64):
    x = cr.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="expand"):
        x.add_(1)


def test_var_and_std_are_unbiased_by_default(float64, rng):
    x, xt = _pair(rng, 3, 5)
    _close(x.var(), xt.var())
    _close(x.std(1), xt.std(1))
    _close(x.var(0, unbiased=False), xt.var(0, unbiased=False))
    _close(x.var(dim=1, correction=0, keepdim=True), xt.var(dim=1, correction=0, keepdim=True))
    _close(cr.std(x, dim=0), torch.std(xt, dim=0))
    _backward(rng, x.std(1), xt.std(1))
    _close(x.grad, xt.grad)


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
