"""BatchNorm2d → ReLU → MaxPool2d run fused (``F.batch_norm_max_pool2d`` then ReLU on the pooled
tensor, as the zoo's networks do through ``models.blocks``): PyTorch's numbers and gradients,
ties in the pooling included, gradcheck, second derivatives, forward mode, running statistics."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.functional.normalization import batch_norm_max_pool2d
from chainrule.models.blocks import run_sequential
from chainrule.models.cnn import CNN

torch = pytest.importorskip("torch")


def _tied(rng, shape):
    """Random values with flat patches: whole 2×2 windows and half-windows of equal values."""
    x = rng.standard_normal(shape)
    x[:, :, :4, :4] = 0.25  # every window ties
    x[:, :, 4:6, ::2] = x[:, :, 4:6, 1::2]  # pairs tie
    x[0, 0] = -1.0  # one whole channel plane flat, negative after BN for some w
    return x


def _fused(x, rm, rv, w, b, training=True):
    return cr.relu(batch_norm_max_pool2d(x, rm, rv, w, b, training, 0.1, 1e-5, 2))


def _theirs(x, rm, rv, w, b, training=True):
    y = torch.nn.functional.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)
    return torch.nn.functional.max_pool2d(torch.relu(y), 2)


@pytest.mark.parametrize("training", [True, False])
def test_fused_block_matches_torch_with_ties(float64, rng, training):
    x = _tied(rng, (3, 4, 8, 6))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    w[1] = -0.5  # a negative scale turns the maxima into minima of x
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    ours_rs = [cr.tensor(rm.copy()), cr.tensor(rv.copy())]
    z = _fused(ins[0], *ours_rs, ins[1], ins[2], training)
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs_rs = [torch.tensor(rm.copy()), torch.tensor(rv.copy())]
    zt = _theirs(tins[0], *theirs_rs, tins[1], tins[2], training)
    np.testing.assert_allclose(z.numpy(), zt.detach().numpy(), rtol=1e-12, atol=1e-12)
    up = rng.standard_normal(z.shape)
    z.backward(cr.tensor(up))
    zt.backward(torch.tensor(up))
    for ours, theirs in zip(ins, tins):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-10)
    for ours, theirs in zip(ours_rs, theirs_rs):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_fused_block_float32_matches_torch(rng):
    x = _tied(rng, (16, 8, 12, 12)).astype(np.float32) * 3 + 1
    w = rng.standard_normal(8).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    z = _fused(ins[0], None, None, ins[1], ins[2])
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    zt = _theirs(tins[0], None, None, tins[1], tins[2])
    np.testing.assert_allclose(z.numpy(), zt.detach().numpy(), rtol=1e-5, atol=1e-5)
    up = rng.standard_normal(z.shape).astype(np.float32)
    z.backward(cr.tensor(up))
    zt.backward(torch.tensor(up))
    for ours, theirs in zip(ins, tins):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_gradcheck_fused_block(float64, rng):
    ins = [
        cr.tensor(a, requires_grad=True)
        for a in (rng.standard_normal((2, 3, 4, 6)), rng.standard_normal(3), rng.standard_normal(3))
    ]
    assert cr.gradcheck(
        lambda x, w, b: batch_norm_max_pool2d(x, None, None, w, b, True, 0.1, 1e-5, 2), ins
    )


def test_fused_block_second_derivatives_match_torch(float64, rng):
    x, w, b = rng.standard_normal((2, 3, 4, 6)), rng.standard_normal(3), rng.standard_normal(3)
    up = rng.standard_normal((2, 3, 2, 3))
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    z = _fused(ins[0], None, None, ins[1], ins[2])
    gx, gw = cr.grad((z * cr.tensor(up)).sum(), ins[:2], create_graph=True)
    ((gx * gx).sum() + (gw * gw * gw).sum()).backward()
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    zt = _theirs(tins[0], None, None, tins[1], tins[2])
    gxt, gwt = torch.autograd.grad((zt * torch.tensor(up)).sum(), tins[:2], create_graph=True)
    ((gxt * gxt).sum() + (gwt * gwt * gwt).sum()).backward()
    for ours, theirs in zip(ins[:2], tins[:2]):  # b moves no gradient (only a ReLU mask)
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-9)


def test_fused_block_forward_mode_agrees_with_reverse(float64, rng):
    x, w, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal(3), rng.standard_normal(3)
    tangents = [rng.standard_normal(a.shape) for a in (x, w, b)]
    up = rng.standard_normal((2, 3, 2, 2))

    def f(x, w, b):
        return batch_norm_max_pool2d(x, None, None, w, b, True, 0.1, 1e-5, 2)

    _, tz = cr.jvp(f, [cr.tensor(a) for a in (x, w, b)], [cr.tensor(t) for t in tangents])
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    (f(*ins) * cr.tensor(up)).sum().backward()
    lhs = float((tz.numpy() * up).sum())
    rhs = sum(float((i.grad.numpy() * t).sum()) for i, t in zip(ins, tangents))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_zoo_cnn_fused_equals_its_layers_run_one_by_one(rng):
    # The fused run (run_sequential) and the Sequential's own forward: the same forward bits,
    # gradients equal to float32 rounding, the same running statistics.
    cr.manual_seed(0)
    a = CNN()
    b = CNN()
    b.load_state_dict(a.state_dict())
    x = cr.tensor(_tied(rng, (8, 1, 28, 28)).astype(np.float32))
    up = cr.tensor(rng.standard_normal((8, 64, 7, 7)).astype(np.float32))
    za, zb = run_sequential(a.features, x), b.features(x)
    np.testing.assert_array_equal(za.numpy(), zb.numpy())
    (za * up).sum().backward()
    (zb * up).sum().backward()
    grads = [(n, pa.grad, pb.grad) for (n, pa), pb in zip(a.named_parameters(), b.parameters())]
    scale = max(float(np.abs(gb.numpy()).max()) for _, _, gb in grads if gb is not None)
    for name, ga, gb in grads:
        if gb is not None:  # the conv biases' are sums that BN makes 0 up to rounding
            np.testing.assert_allclose(ga.numpy(), gb.numpy(), atol=1e-6 * scale, err_msg=name)
    for sa, sb in zip(a.buffers(), b.buffers()):
        np.testing.assert_array_equal(sa.numpy(), sb.numpy())


def test_run_sequential_leaves_other_stacks_alone():
    seq = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU(inplace=True), nn.MaxPool2d(2))
    x = cr.randn(2, 2, 4, 4)
    np.testing.assert_array_equal(run_sequential(seq, x).numpy(), seq(x).numpy())
    seq = nn.Sequential(nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2, stride=1))
    np.testing.assert_array_equal(run_sequential(seq, x).numpy(), seq(x).numpy())
