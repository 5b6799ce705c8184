"""Activations, losses, normalize/cosine_similarity/pad and Unflatten beside PyTorch (float64):
values and the gradients of a random upstream gradient, to 1e-12, and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(14)

# (id, chainrule fn, torch fn, input shapes, domain): each fn takes its inputs as arguments.
CASES = [
    ("gelu", F.gelu, TF.gelu, [(3, 5)], "real"),
    (
        "gelu-tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: TF.gelu(x, approximate="tanh"),
        [(3, 5)],
        "real",
    ),
    ("silu", F.silu, TF.silu, [(4, 3)], "real"),
    ("elu", F.elu, TF.elu, [(4, 3)], "nonzero"),
    ("elu-alpha", lambda x: F.elu(x, 0.3), lambda x: TF.elu(x, 0.3), [(2, 3, 2)], "nonzero"),
    ("softplus", F.softplus, TF.softplus, [(4, 3)], "real"),
    (
        "softplus-beta",
        lambda x: F.softplus(x, 2.0, 1.5),
        lambda x: TF.softplus(x, 2.0, 1.5),
        [(5, 4)],
        "real",
    ),
    (
        "leaky-relu",
        lambda x: F.leaky_relu(x * 1, 0.2, inplace=True),  # in place: not on a leaf
        lambda x: TF.leaky_relu(x * 1, 0.2, inplace=True),
        [(4, 3)],
        "nonzero",
    ),
    (
        "log-softmax",
        lambda x: F.log_softmax(x, dim=1),
        lambda x: TF.log_softmax(x, dim=1),
        [(3, 4)],
        "real",
    ),
    ("normalize", F.normalize, TF.normalize, [(3, 4)], "real"),
    (
        "normalize-p1-dim0",
        lambda x: F.normalize(x, 1.0, 0),
        lambda x: TF.normalize(x, 1.0, 0),
        [(3, 4)],
        "nonzero",
    ),
    (
        "normalize-p3",
        lambda x: F.normalize(x, 3.0, -1),
        lambda x: TF.normalize(x, 3.0, -1),
        [(2, 3, 4)],
        "nonzero",
    ),
    ("cosine", F.cosine_similarity, TF.cosine_similarity, [(3, 4), (3, 4)], "real"),
    (
        "cosine-broadcast",
        lambda a, b: F.cosine_similarity(a, b, dim=-1),
        lambda a, b: TF.cosine_similarity(a, b, dim=-1),
        [(3, 4), (1, 4)],
        "real",
    ),
    ("pad-constant", lambda x: F.pad(x, (1, 2)), lambda x: TF.pad(x, (1, 2)), [(2, 3)], "real"),
    (
        "pad-constant-2d-value",
        lambda x: F.pad(x, (1, 0, 2, 1), value=-0.5),
        lambda x: TF.pad(x, (1, 0, 2, 1), value=-0.5),
        [(2, 3, 4)],
        "real",
    ),
    (
        "pad-constant-crop",
        lambda x: F.pad(x, (-1, 2, 1, -1)),
        lambda x: TF.pad(x, (-1, 2, 1, -1)),
        [(3, 4)],
        "real",
    ),
    (
        "pad-reflect",
        lambda x: F.pad(x, (2, 3), mode="reflect"),
        lambda x: TF.pad(x, (2, 3), mode="reflect"),
        [(2, 3, 5)],
        "real",
    ),
    (
        "pad-reflect-2d",
        lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
        lambda x: TF.pad(x, (1, 2, 2, 1), mode="reflect"),
        [(1, 2, 4, 3)],
        "real",
    ),
    (
        "pad-replicate-2d",
        lambda x: F.pad(x, (2, 1, 0, 3), mode="replicate"),
        lambda x: TF.pad(x, (2, 1, 0, 3), mode="replicate"),
        [(1, 2, 3, 4)],
        "real",
    ),
    (
        "pad-circular",
        lambda x: F.pad(x, (2, 1), mode="circular"),
        lambda x: TF.pad(x, (2, 1), mode="circular"),
        [(1, 2, 4)],
        "real",
    ),
    ("smooth-l1", F.smooth_l1_loss, TF.smooth_l1_loss, [(4, 3), (4, 3)], "real"),
    (
        "smooth-l1-beta-none",
        lambda a, b: F.smooth_l1_loss(a, b, reduction="none", beta=0.3),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction="none", beta=0.3),
        [(4, 3), (4, 3)],
        "real",
    ),
    (
        "smooth-l1-beta0-sum",
        lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.0),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction="sum", beta=0.0),
        [(4, 3), (4, 3)],
        "real",
    ),
    ("l1", F.l1_loss, TF.l1_loss, [(4, 3), (4, 3)], "real"),
    (
        "kl-div-log-target",
        lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=True),
        lambda a, b: TF.kl_div(a, b, reduction="batchmean", log_target=True),
        [(4, 3), (4, 3)],
        "real",
    ),
]
IDS = [c[0] for c in CASES]


def draw(shape, domain):
    x = RNG.standard_normal(shape) * 2
    if domain == "nonzero":  # away from kinks, where finite differences straddle
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    return x


def compare(ours_fn, torch_fn, arrays):
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    yo, yt = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(yo.shape) == tuple(yt.shape)
    value = float(np.max(np.abs(yo.numpy() - yt.detach().numpy()), initial=0.0))
    g = RNG.standard_normal(tuple(yt.shape))
    yo.backward(cr.tensor(g))
    yt.backward(torch.tensor(g))
    grad = max(
        float(np.max(np.abs(a.grad.numpy() - b.grad.numpy()), initial=0.0))
        for a, b in zip(ours, theirs)
    )
    return value, grad


@pytest.mark.parametrize("name, ours_fn, torch_fn, shapes, domain", CASES, ids=IDS)
def test_values_and_gradients_match_torch(name, ours_fn, torch_fn, shapes, domain):
    value, grad = compare(ours_fn, torch_fn, [draw(s, domain) for s in shapes])
    assert value < 1e-12 and grad < 1e-12, (value, grad)


@pytest.mark.parametrize("name, ours_fn, torch_fn, shapes, domain", CASES, ids=IDS)
def test_gradcheck(name, ours_fn, torch_fn, shapes, domain, float64):
    inputs = [cr.tensor(draw(s, domain), requires_grad=True) for s in shapes]
    assert cr.gradcheck(ours_fn, inputs)


@pytest.mark.filterwarnings("ignore:reduction. .mean.")
def test_kl_div_with_probabilities_matches_torch():
    """log q against probabilities p with exact zeros (where p log p is 0), all reductions."""
    for reduction in ("mean", "batchmean", "sum", "none"):
        x = np.log(RNG.dirichlet(np.ones(5), size=4))
        p = RNG.dirichlet(np.ones(5), size=4)
        p[0, 1] = p[2, 3] = 0.0
        value, grad = compare(
            lambda a, b, r=reduction: F.kl_div(a, b, reduction=r),
            lambda a, b, r=reduction: TF.kl_div(a, b, reduction=r),
            [x, p],
        )
        assert value < 1e-12 and grad < 1e-12, (reduction, value, grad)


def test_gelu_far_tails_match_torch():
    x = np.array([-40.0, -10.0, -5.0, -1e-8, 0.0, 1e-8, 5.0, 10.0, 40.0])
    for fn, tfn in [
        (F.gelu, TF.gelu),
        (F.softplus, TF.softplus),
        (F.elu, TF.elu),
        (F.silu, TF.silu),
    ]:
        value, grad = compare(fn, tfn, [x])
        assert value < 1e-12 and grad < 1e-12, (fn.__name__, value, grad)


def _on_copy(module):
    """``module`` applied to ``x * 1``: an in-place module must not be given a leaf."""
    return lambda x: module(x * 1)


# (id, chainrule module, torch module, input shape)
MODULES = [
    ("GELU", nn.GELU(), torch.nn.GELU(), (3, 4)),
    ("GELU-tanh", nn.GELU("tanh"), torch.nn.GELU("tanh"), (3, 4)),
    # inplace=True overwrites the input, as PyTorch: given a non-leaf (x * 1), not the leaf x
    ("SiLU", _on_copy(nn.SiLU(inplace=True)), _on_copy(torch.nn.SiLU(inplace=True)), (3, 4)),
    ("ELU", _on_copy(nn.ELU(0.5, inplace=True)), _on_copy(torch.nn.ELU(0.5, inplace=True)), (3, 4)),
    (
        "LeakyReLU",
        _on_copy(nn.LeakyReLU(0.1, inplace=True)),
        _on_copy(torch.nn.LeakyReLU(0.1, inplace=True)),
        (3, 4),
    ),
    ("ReLU", _on_copy(nn.ReLU(inplace=True)), _on_copy(torch.nn.ReLU(inplace=True)), (3, 4)),
    (
        "Softplus",
        nn.Softplus(beta=0.5, threshold=3.0),
        torch.nn.Softplus(beta=0.5, threshold=3.0),
        (3, 4),
    ),
    ("LogSoftmax", nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1), (3, 4)),
    ("Identity", nn.Identity(54, unused=True), torch.nn.Identity(54, unused=True), (3, 4)),
    ("Unflatten", nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3)), (4, 6, 2)),
    ("Unflatten-neg", nn.Unflatten(-1, (3, -1)), torch.nn.Unflatten(-1, (3, -1)), (2, 6)),
]


@pytest.mark.parametrize("name, ours, theirs, shape", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(name, ours, theirs, shape):
    value, grad = compare(ours, theirs, [draw(shape, "nonzero")])
    assert value < 1e-12 and grad < 1e-12, (value, grad)


LOSSES = [
    ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
    ("SmoothL1Loss-sum", nn.SmoothL1Loss(reduction="sum"), torch.nn.SmoothL1Loss(reduction="sum")),
    ("L1Loss", nn.L1Loss(), torch.nn.L1Loss()),
    (
        "KLDivLoss",
        nn.KLDivLoss(reduction="batchmean", log_target=True),
        torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
    ),
]


@pytest.mark.parametrize("name, ours, theirs", LOSSES, ids=[m[0] for m in LOSSES])
def test_loss_modules_match_torch(name, ours, theirs):
    value, grad = compare(ours, theirs, [draw((4, 3), "real"), draw((4, 3), "real")])
    assert value < 1e-12 and grad < 1e-12, (value, grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_losses_with_weight_match_torch(reduction):
    """CrossEntropyLoss(weight=) and NLLLoss(weight=, ignore_index=) as torch's."""
    logits = RNG.standard_normal((6, 4))
    target = np.array([0, 3, 1, 1, 2, 3])
    w = RNG.uniform(0.2, 2.0, 4)
    for ours, theirs in [
        (
            nn.CrossEntropyLoss(weight=cr.tensor(w), reduction=reduction),
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), reduction=reduction),
        ),
        (
            nn.NLLLoss(weight=cr.tensor(w), ignore_index=1, reduction=reduction),
            torch.nn.NLLLoss(weight=torch.tensor(w), ignore_index=1, reduction=reduction),
        ),
    ]:
        value, grad = compare(
            lambda x, f=ours: f(x, cr.tensor(target)),
            lambda x, f=theirs: f(x, torch.tensor(target)),
            [logits],
        )
        assert value < 1e-12 and grad < 1e-12, (type(ours).__name__, value, grad)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: F.pad(x, (1,)), "pairs"),
        (lambda x: F.pad(x, (3, 0), mode="reflect"), "reflect padding"),
        (lambda x: F.pad(x, (1, 1), mode="wrap"), "mode"),
        (lambda x: F.pad(x, (-1, 1), mode="replicate"), "negative"),
        (lambda x: F.gelu(x, approximate="erf"), "approximate"),
        (lambda x: F.kl_div(x, x, reduction="avg"), "reduction"),
        (lambda x: F.smooth_l1_loss(x, x, beta=-1.0), "beta"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call(cr.tensor(np.ones((2, 3))))
