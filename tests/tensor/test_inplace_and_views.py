"""In-place writes that autograd records, as PyTorch's (API.md version 2): assignment into a
buffer, a hand-written SGD step, in-place methods, assignment with each kind of index, views
sharing storage and the version counter. Each case runs the same program in chainrule and in
PyTorch (float64) and compares values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_compare import backward_both as _backward
from torch_compare import close as _close
from torch_compare import pair as _pair

import chainrule as cr


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
