"""The fused loss ops on large inputs against PyTorch (float32 and float64): nll_loss as a
gather, smooth L1 without a select, binary cross-entropy with logits without np.log1p, and
cross-entropy's backward from the kept log-softmax. Values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = {"float64": 1e-12, "float32": 3e-6}


def _both(fn_ours, fn_theirs, arrays, grads_of, dtype):
    """Values and the gradients of the inputs listed in ``grads_of``, ours and PyTorch's."""
    ours = [cr.tensor(a, requires_grad=i in grads_of) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in grads_of) for i, a in enumerate(arrays)]
    yo, yt = fn_ours(*ours), fn_theirs(*theirs)
    tol = TOL[dtype]
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(9).normal(size=tuple(yt.shape)).astype(dtype)
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    for i in grads_of:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_smooth_l1(dtype, beta, reduction):
    rng = np.random.default_rng(0)
    x, y = (rng.normal(size=(80, 70)).astype(dtype) * 3 for _ in range(2))
    _both(
        lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        [x, y],
        (0, 1),
        dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_with_logits_far_into_the_tails(dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=5000) * 8, np.linspace(-60, 60, 1001)]).astype(dtype)
    y = rng.uniform(0, 1, x.shape).astype(dtype)
    _both(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
        [x, y],
        (0, 1),
        dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nll_loss_weights_ignored_targets_and_extra_dims(dtype):
    rng = np.random.default_rng(2)
    logp = np.log(rng.dirichlet(np.ones(7), (30, 5))).transpose(0, 2, 1).astype(dtype)
    t = rng.integers(0, 7, (30, 5))
    t[3, 1] = -100
    w = rng.uniform(0.5, 2, 7).astype(dtype)
    _both(
        lambda a: F.nll_loss(a, t, weight=cr.tensor(w)),
        lambda a: TF.nll_loss(a, torch.tensor(t), weight=torch.tensor(w)),
        [logp],
        (0,),
        dtype,
    )


def test_nll_loss_reads_only_the_targets_log_probability():
    """A -inf log-probability of a class not targeted: PyTorch's loss stays finite."""
    x = np.array([[np.log(0.5), np.log(0.5), -np.inf], [np.log(0.2), -np.inf, np.log(0.8)]])
    t = np.array([1, 2])
    ours = F.nll_loss(cr.tensor(x, requires_grad=True), t)
    theirs = TF.nll_loss(torch.tensor(x), torch.tensor(t))
    assert float(ours.numpy()) == pytest.approx(float(theirs), rel=1e-15)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_float32_large(smoothing):
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(512, 100)) * 4).astype(np.float32)
    t = rng.integers(0, 100, 512)
    _both(
        lambda a: F.cross_entropy(a, t, label_smoothing=smoothing, reduction="none"),
        lambda a: TF.cross_entropy(a, torch.tensor(t), label_smoothing=smoothing, reduction="none"),
        [x],
        (0,),
        "float32",
    )
