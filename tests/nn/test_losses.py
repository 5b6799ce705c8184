"""Losses against PyTorch (values and gradients, random upstream gradients, every reduction),
gradchecks of the fused loss ops (first and second order, forward mode), and their errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _pair(a, requires_grad=True):
    """The same float64 array as a chainrule and a torch tensor, both leaves."""
    return cr.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def _backward_both(lc, lt, rng):
    """Backpropagates the same random upstream gradient through both losses."""
    assert lc.shape == tuple(lt.shape)
    g = rng.normal(size=lc.shape)
    lc.backward(g)
    lt.backward(torch.tensor(g))


def _close(c, t, atol=1e-10):
    c = c.numpy() if isinstance(c, cr.Tensor) else c
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else t
    np.testing.assert_allclose(c, t, rtol=1e-9, atol=atol)


# ----- cross-entropy -----
CE_OPTIONS = [
    {},
    {"weight": True},
    {"ignore_index": 2, "label_smoothing": 0.2},
    {"weight": True, "ignore_index": -100, "label_smoothing": 0.1},
]


@pytest.mark.parametrize("shape", [(7, 5), (4, 5, 3), (3, 5, 2, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS)
def test_cross_entropy_matches_torch(shape, reduction, options, rng):
    C = shape[1]
    x = rng.normal(size=shape) * 3
    t = rng.integers(0, C, size=shape[:1] + shape[2:])
    ignore = options.get("ignore_index", -100)
    t.flat[::3] = ignore  # some ignored targets in every configuration
    w = rng.uniform(0.5, 2.0, size=C)
    kc = {k: v for k, v in options.items() if k != "weight"}
    kt = dict(kc)
    if options.get("weight"):
        kc["weight"], kt["weight"] = cr.tensor(w), torch.tensor(w)
    xc, xt = _pair(x)
    lc = F.cross_entropy(xc, cr.tensor(t), reduction=reduction, **kc)
    lt = TF.cross_entropy(xt, torch.tensor(t), reduction=reduction, **kt)
    _close(lc, lt)
    _backward_both(lc, lt, rng)
    _close(xc.grad, xt.grad)
    # The module computes the same thing.
    mod = nn.CrossEntropyLoss(reduction=reduction, **kc)
    _close(mod(cr.tensor(x), t), lt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.3}, {"weight": True}])
def test_cross_entropy_probability_targets_match_torch(reduction, options, rng):
    x = rng.normal(size=(6, 5, 2))
    y = rng.dirichlet(np.ones(5), size=(6, 2)).transpose(0, 2, 1).copy()
    w = rng.uniform(0.5, 2.0, size=5)
    kc = {k: v for k, v in options.items() if k != "weight"}
    kt = dict(kc)
    if options.get("weight"):
        kc["weight"], kt["weight"] = w, torch.tensor(w)
    xc, xt = _pair(x)
    lc = F.cross_entropy(xc, y, reduction=reduction, **kc)
    lt = TF.cross_entropy(xt, torch.tensor(y), reduction=reduction, **kt)
    _close(lc, lt)
    _backward_both(lc, lt, rng)
    _close(xc.grad, xt.grad)


def test_cross_entropy_unbatched_matches_torch(rng):
    x = rng.normal(size=5)
    for reduction in REDUCTIONS:
        xc, xt = _pair(x)
        lc = F.cross_entropy(xc, np.array(3), reduction=reduction, label_smoothing=0.1)
        lt = TF.cross_entropy(xt, torch.tensor(3), reduction=reduction, label_smoothing=0.1)
        assert lc.shape == ()
        _close(lc, lt)
        lc.backward()
        lt.backward()
        _close(xc.grad, xt.grad)


def test_cross_entropy_is_stable_for_huge_logits(float64):
    x = cr.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype=cr.float32, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([1, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)  # sample 0 costs 2e4, sample 1 0
    assert np.isfinite(x.grad.numpy()).all() and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-6)


def test_cross_entropy_all_targets_ignored_gives_nan_mean_like_torch():
    x = np.zeros((2, 3))
    lc = F.cross_entropy(cr.tensor(x), np.array([-100, -100]))
    lt = TF.cross_entropy(torch.tensor(x), torch.tensor([-100, -100]))
    assert np.isnan(lc.item()) and torch.isnan(lt)
    assert F.cross_entropy(cr.tensor(x), np.array([-100, -100]), reduction="sum").item() == 0


def test_cross_entropy_ignored_targets_get_no_gradient(rng):
    x = cr.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    F.cross_entropy(x, np.array([0, -100, 2, -100]), label_smoothing=0.2).backward()
    assert np.all(x.grad.numpy()[[1, 3]] == 0) and np.any(x.grad.numpy()[[0, 2]] != 0)


# ----- NLL -----
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(shape, reduction, weighted, rng):
    x = rng.normal(size=shape)
    t = rng.integers(0, shape[1], size=shape[:1] + shape[2:])
    t.flat[1::4] = 1000  # ignore_index
    w = rng.uniform(0.5, 2.0, size=shape[1]) if weighted else None
    xc, xt = _pair(x)
    lc = F.nll_loss(xc, t, weight=w, ignore_index=1000, reduction=reduction)
    lt = TF.nll_loss(
        xt,
        torch.tensor(t),
        weight=None if w is None else torch.tensor(w),
        ignore_index=1000,
        reduction=reduction,
    )
    _close(lc, lt)
    _backward_both(lc, lt, rng)
    _close(xc.grad, xt.grad)


def test_log_softmax_then_nll_equals_cross_entropy(rng):
    x = cr.tensor(rng.normal(size=(5, 4)))
    t = rng.integers(0, 4, size=5)
    a = nn.NLLLoss()(nn.LogSoftmax(dim=1)(x), t)
    b = nn.CrossEntropyLoss()(x, t)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


# ----- regression -----
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("ours", "theirs"), [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss)])
def test_regression_losses_match_torch(ours, theirs, reduction, rng):
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    xc, xt = _pair(x)
    yc, yt = _pair(y)  # the target may require grad too
    lc, lt = ours(xc, yc, reduction=reduction), theirs(xt, yt, reduction=reduction)
    _close(lc, lt)
    _backward_both(lc, lt, rng)
    _close(xc.grad, xt.grad)
    _close(yc.grad, yt.grad)


def test_mse_module_matches_function(rng):
    x, y = cr.tensor(rng.normal(size=(3, 2))), cr.tensor(rng.normal(size=(3, 2)))
    assert nn.MSELoss(reduction="sum")(x, y).item() == F.mse_loss(x, y, reduction="sum").item()


# ----- binary -----
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(reduction, weighted, rng):
    x = rng.uniform(0.02, 0.98, size=(5, 3))
    x[0, 0], x[1, 1] = 0.0, 1.0  # the logs are clamped at -100 here
    y = rng.uniform(0, 1, size=(5, 3))
    w = rng.uniform(0.5, 2, size=(3,)) if weighted else None
    xc, xt = _pair(x)
    yc, yt = _pair(y)
    lc = F.binary_cross_entropy(xc, yc, weight=w, reduction=reduction)
    lt = TF.binary_cross_entropy(
        xt, yt, weight=None if w is None else torch.tensor(w), reduction=reduction
    )
    assert np.isfinite(lc.numpy()).all()
    _close(lc, lt)
    _backward_both(lc, lt, rng)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-8)
    # At x = 0 or 1 PyTorch's target gradient is ±inf (unclamped logs); ours is the derivative of
    # the clamped loss, finite. Elsewhere they agree.
    inside = (x > 0) & (x < 1)
    _close(yc.grad.numpy()[inside], yt.grad.numpy()[inside])
    assert np.isfinite(yc.grad.numpy()).all()
    _close(nn.BCELoss(weight=w, reduction=reduction)(cr.tensor(x), y), lt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options", [{}, {"pos_weight": True}, {"pos_weight": True, "weight": True}]
)
def test_bce_with_logits_matches_torch(reduction, options, rng):
    x = rng.normal(size=(6, 4)) * 4
    x[0] = [1e4, -1e4, 50.0, -50.0]
    y = rng.uniform(0, 1, size=(6, 4))
    y[0] = [0.0, 1.0, 0.0, 1.0]  # the costly direction at huge logits
    pw = rng.uniform(0.5, 3, size=4)
    w = rng.uniform(0.5, 2, size=(6, 1))
    kc, kt = {}, {}
    if options.get("pos_weight"):
        kc["pos_weight"], kt["pos_weight"] = pw, torch.tensor(pw)
    if options.get("weight"):
        kc["weight"], kt["weight"] = w, torch.tensor(w)
    xc, xt = _pair(x)
    yc, yt = _pair(y)
    lc = F.binary_cross_entropy_with_logits(xc, yc, reduction=reduction, **kc)
    lt = TF.binary_cross_entropy_with_logits(xt, yt, reduction=reduction, **kt)
    assert np.isfinite(lc.numpy()).all()
    np.testing.assert_allclose(lc.numpy(), lt.detach().numpy(), rtol=1e-12, atol=1e-10)
    _backward_both(lc, lt, rng)
    assert np.isfinite(xc.grad.numpy()).all() and np.isfinite(yc.grad.numpy()).all()
    _close(xc.grad, xt.grad)
    np.testing.assert_allclose(yc.grad.numpy(), yt.grad.numpy(), rtol=1e-12, atol=1e-10)
    mod = nn.BCEWithLogitsLoss(reduction=reduction, **kc)
    np.testing.assert_allclose(mod(cr.tensor(x), y).numpy(), lt.detach().numpy(), rtol=1e-12)


def test_bce_with_logits_huge_logits_float32():
    x = cr.tensor([1e4, -1e4, 1e4, -1e4], dtype=cr.float32, requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0], dtype=cr.float32)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0, 0, 1e4, 1e4])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1, -1])


# ----- gradchecks of the fused ops -----
def test_gradcheck_cross_entropy_fused(float64, rng):
    x = cr.tensor(rng.normal(size=(3, 4, 2)), requires_grad=True)
    t = np.array([[0, 3], [-100, 1], [2, 2]])
    w = rng.uniform(0.5, 2, size=4)

    def fn(x):
        return F.cross_entropy(x, t, weight=w, label_smoothing=0.15, reduction="none")

    assert cr.gradcheck(fn, [x])
    assert cr.gradcheck(lambda x: F.cross_entropy(x, t, label_smoothing=0.15), [x])
    y = rng.dirichlet(np.ones(4), size=3)
    assert cr.gradcheck(lambda x: F.cross_entropy(x, y, reduction="none"), [x[:, :, 0]])


def test_gradcheck_bce_fused(float64, rng):
    x = cr.tensor(rng.uniform(0.1, 0.9, size=(3, 2)), requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, size=(3, 2)), requires_grad=True)
    assert cr.gradcheck(lambda x, y: F.binary_cross_entropy(x, y, reduction="none"), [x, y])


def test_gradcheck_bce_with_logits_fused(float64, rng):
    x = cr.tensor(rng.normal(size=(3, 2)) * 3, requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, size=(3, 2)), requires_grad=True)
    pw = np.array([0.5, 2.5])
    assert cr.gradcheck(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw),
        [x, y],
    )
    assert cr.gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y), [x, y])


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, y: F.cross_entropy(x, np.array([1, 0, 2]), label_smoothing=0.1),
        lambda x, y: F.binary_cross_entropy(x.sigmoid(), y),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([2.0, 1, 3])),
    ],
    ids=["cross_entropy", "bce", "bce_with_logits"],
)
def test_fused_losses_second_order(loss, float64, rng):
    """The VJPs are written in the differentiable vocabulary: their gradients gradcheck too."""
    x = cr.tensor(rng.normal(size=(3, 3)), requires_grad=True)
    y = cr.tensor(rng.uniform(0, 1, size=(3, 3)), requires_grad=True)

    def grad_x(x, y):
        return cr.grad(loss(x, y), x, create_graph=True)[0]

    assert cr.gradcheck(grad_x, [x, y])


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, y: F.cross_entropy(x, np.array([1, 0, 2]), reduction="none", label_smoothing=0.1),
        lambda x, y: F.binary_cross_entropy(x.sigmoid(), y, reduction="none"),
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, reduction="none", pos_weight=np.ones(3) * 2
        ),
    ],
    ids=["cross_entropy", "bce", "bce_with_logits"],
)
def test_fused_losses_forward_mode_agrees_with_reverse(loss, float64, rng):
    x, y = rng.normal(size=(3, 3)), rng.uniform(0, 1, size=(3, 3))
    tx, ty = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    _, tangent = cr.jvp(loss, (cr.tensor(x), cr.tensor(y)), (cr.tensor(tx), cr.tensor(ty)))
    xc, yc = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    out = loss(xc, yc)
    u = rng.normal(size=out.shape)
    gx, gy = cr.grad(out, [xc, yc], cr.tensor(u), allow_unused=True)
    expect = (gx.numpy() * tx).sum() + (0 if gy is None else (gy.numpy() * ty).sum())
    np.testing.assert_allclose((tangent.numpy() * u).sum(), expect, rtol=1e-10)


# ----- errors -----
@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (F.mse_loss, "mse_loss"),
        (F.binary_cross_entropy, "binary_cross_entropy"),
        (F.binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"),
    ],
)
def test_shape_mismatch_names_the_loss_and_both_shapes(fn, name):
    x = cr.full((4, 1), 0.5)
    with pytest.raises(cr.ShapeError, match=rf"{name}.*\(4,\).*\(4, 1\)"):
        fn(x, cr.full((4,), 0.5))


def test_cross_entropy_errors():
    x = cr.zeros(4, 3)
    with pytest.raises(cr.ShapeError, match=r"cross_entropy.*\(4,\).*\(4, 1\)"):
        F.cross_entropy(x, np.zeros((4, 1), dtype=np.int64))
    with pytest.raises(IndexError, match="cross_entropy: target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(cr.ShapeError, match=r"weight.*\(3,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 0]), weight=np.ones(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*probability"):
        F.binary_cross_entropy(cr.tensor([1.5, 0.5]), cr.tensor([1.0, 0.0]))


def test_loss_module_repr():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    # PyTorch's losses have no extra_repr: the reduction is not printed
    assert repr(nn.MSELoss(reduction="sum")) == repr(torch.nn.MSELoss(reduction="sum"))
