"""The optimisers added for PyTorch's breadth, run beside torch.optim (float64).

A small MLP's loss gives both frameworks the same gradients from the same starting weights;
after ten steps the weights must agree to 1e-10. Parameter groups with their own options,
``add_param_group`` and ``step(closure)`` go through the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(14)
X = RNG.standard_normal((5, 3))
Y = RNG.standard_normal((5, 2))
INIT = [RNG.standard_normal(s) for s in [(4, 3), (4,), (2, 4), (2,)]]

# (name, class name in both frameworks, kwargs)
CASES = [
    ("adadelta", "Adadelta", dict()),
    ("adadelta-all", "Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1)),
    ("adamax", "Adamax", dict()),
    ("adamax-all", "Adamax", dict(lr=0.05, betas=(0.5, 0.8), eps=1e-4, weight_decay=0.2)),
    ("nadam", "NAdam", dict()),
    ("nadam-wd", "NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("nadam-decoupled", "NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("sgd", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("adamw", "AdamW", dict(lr=0.01)),
    ("adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("rmsprop", "RMSprop", dict(centered=True, momentum=0.5)),
    ("sgd-default-lr", "SGD", dict()),
    ("sgd-foreach", "SGD", dict(lr=0.1, foreach=False)),
] + [
    # PyTorch's maximize switch on every optimiser that has it: gradient ascent.
    (f"{cls.lower()}-maximize", cls, dict(lr=0.01, maximize=True))
    for cls in ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam"]
]
IDS = [c[0] for c in CASES]


def mlp_loss(lib, params, x, y):
    """Mean squared error of a 3-4-2 tanh MLP: the same expression in chainrule and torch."""
    w1, b1, w2, b2 = params
    h = (x @ w1.T + b1).tanh()
    return ((h @ w2.T + b2 - y) ** 2).mean()


def both_params():
    ours = [cr.tensor(a.copy(), requires_grad=True) for a in INIT]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in INIT]
    return ours, theirs


def data():
    return (cr.tensor(X), cr.tensor(Y)), (torch.tensor(X), torch.tensor(Y))


def max_diff(ours, theirs) -> float:
    return max(float(np.max(np.abs(a.numpy() - b.detach().numpy()))) for a, b in zip(ours, theirs))


def run_steps(opt_ours, opt_theirs, ours, theirs, steps=10, closure=False):
    (xo, yo), (xt, yt) = data()
    for _ in range(steps):
        if closure:

            def c_ours():
                opt_ours.zero_grad()
                loss = mlp_loss(cr, ours, xo, yo)
                loss.backward()
                return loss

            def c_theirs():
                opt_theirs.zero_grad()
                loss = mlp_loss(torch, theirs, xt, yt)
                loss.backward()
                return loss

            lo, lt = opt_ours.step(c_ours), opt_theirs.step(c_theirs)
            assert abs(float(lo.item()) - float(lt.item())) < 1e-10
        else:
            opt_ours.zero_grad()
            opt_theirs.zero_grad()
            mlp_loss(cr, ours, xo, yo).backward()
            mlp_loss(torch, theirs, xt, yt).backward()
            opt_ours.step()
            opt_theirs.step()
    return max_diff(ours, theirs)


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_ten_steps_match_torch(name, cls, kwargs):
    ours, theirs = both_params()
    a = getattr(optim, cls)(ours, **kwargs)
    b = getattr(torch.optim, cls)(theirs, **kwargs)
    assert run_steps(a, b, ours, theirs) < 1e-10
    assert max_diff(ours, [torch.tensor(i) for i in INIT]) > 1e-4  # the weights did move


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=IDS)
def test_closure_matches_torch(name, cls, kwargs):
    ours, theirs = both_params()
    a = getattr(optim, cls)(ours, **kwargs)
    b = getattr(torch.optim, cls)(theirs, **kwargs)
    assert run_steps(a, b, ours, theirs, closure=True) < 1e-10


@pytest.mark.parametrize("cls", ["Adadelta", "Adamax", "NAdam", "Adam", "SGD", "RMSprop"])
def test_groups_and_add_param_group(cls):
    """Per-group options and a group added after a few steps, as fine-tuning does."""
    ours, theirs = both_params()
    kw = dict(lr=0.03)
    a = getattr(optim, cls)([{"params": ours[:2]}, {"params": ours[2:3], "lr": 0.01}], **kw)
    b = getattr(torch.optim, cls)(
        [{"params": theirs[:2]}, {"params": theirs[2:3], "lr": 0.01}], **kw
    )
    run_steps(a, b, ours, theirs, steps=3)
    a.add_param_group({"params": [ours[3]], "lr": 0.2})
    b.add_param_group({"params": [theirs[3]], "lr": 0.2})
    assert [g["lr"] for g in a.param_groups] == [g["lr"] for g in b.param_groups]
    assert run_steps(a, b, ours, theirs, steps=7) < 1e-10


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        ("Adadelta", dict(rho=1.5), "rho"),
        ("Adadelta", dict(lr=-1.0), "lr"),
        ("Adamax", dict(betas=(0.9, 1.0)), "beta2"),
        ("Adamax", dict(eps=-1.0), "eps"),
        ("NAdam", dict(momentum_decay=-0.1), "momentum_decay"),
        ("NAdam", dict(decoupled_weight_decay="yes"), "decoupled_weight_decay"),
    ],
)
def test_bad_hyperparameters(cls, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        getattr(optim, cls)(both_params()[0], **kwargs)


@pytest.mark.parametrize("cls", ["Adadelta", "Adamax", "NAdam"])
def test_state_dict_resumes(cls):
    """Stopping after 4 steps, reloading into a fresh optimiser, then 6 more = 10 uninterrupted."""
    ours, theirs = both_params()
    a = getattr(optim, cls)(ours, lr=0.05)
    b = getattr(torch.optim, cls)(theirs, lr=0.05)
    run_steps(a, b, ours, theirs, steps=4)
    a2 = getattr(optim, cls)(ours, lr=0.05)
    a2.load_state_dict(a.state_dict())
    assert run_steps(a2, b, ours, theirs, steps=6) < 1e-10


def test_nadam_with_float64_default(float64):
    """PyTorch rounds NAdam's mu_product to the default dtype; with float64 neither rounds."""
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ours, theirs = both_params()
        a = optim.NAdam(ours, lr=0.05, weight_decay=0.1)
        b = torch.optim.NAdam(theirs, lr=0.05, weight_decay=0.1)
        assert run_steps(a, b, ours, theirs) < 1e-10
    finally:
        torch.set_default_dtype(prev)


Q_RNG = np.random.default_rng(1)
_M = Q_RNG.standard_normal((6, 6))
Q_A, Q_B, Q_X0 = _M @ _M.T + 0.5 * np.eye(6), Q_RNG.standard_normal(6), Q_RNG.standard_normal(6)

LBFGS_CASES = [
    dict(),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", max_iter=7, history_size=2, lr=0.8),
]
LBFGS_IDS = ["default", "short-history", "strong-wolfe", "strong-wolfe-short"]


@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=LBFGS_IDS)
def test_lbfgs_quadratic_matches_torch(kwargs):
    """Ten LBFGS steps on 0.5 xᵀAx - bᵀx: losses, weights and iteration counts equal PyTorch's,
    and x reaches A⁻¹b; the history carries across steps."""
    xo, xt = (
        cr.tensor(Q_X0.copy(), requires_grad=True),
        torch.tensor(Q_X0.copy(), requires_grad=True),
    )
    a, b = optim.LBFGS([xo], **kwargs), torch.optim.LBFGS([xt], **kwargs)

    def make(lib, opt, x):
        A, B = lib.tensor(Q_A), lib.tensor(Q_B)

        def closure():
            opt.zero_grad()
            loss = 0.5 * (x * (A @ x)).sum() - (B * x).sum()
            loss.backward()
            return loss

        return closure

    co, ct = make(cr, a, xo), make(torch, b, xt)
    for _ in range(10):
        assert abs(a.step(co).item() - b.step(ct).item()) < 1e-10
        assert np.abs(xo.numpy() - xt.detach().numpy()).max() < 1e-10
    for key in ("func_evals", "n_iter"):
        assert a.state[0][key] == b.state[xt][key]
    # (to the accuracy its stopping rule allows: loss changes under 1e-9 end a step)
    np.testing.assert_allclose(xo.numpy(), np.linalg.solve(Q_A, Q_B), atol=1e-4)


@pytest.mark.parametrize("kwargs", LBFGS_CASES[2:], ids=LBFGS_IDS[2:])
def test_lbfgs_mlp_matches_torch(kwargs):
    """On the MLP with the line search. (Without it, L-BFGS's fixed steps near the minimum
    amplify the frameworks' 1e-15 gradient rounding differences to 1e-10..1e-7 in ten steps;
    on the quadratic, whose gradients agree, they stay at 1e-14.)"""
    ours, theirs = both_params()
    a = optim.LBFGS(ours, **kwargs)
    b = torch.optim.LBFGS(theirs, **kwargs)
    assert run_steps(a, b, ours, theirs, closure=True) < 1e-10
    for key in ("func_evals", "n_iter"):
        assert a.state[0][key] == b.state[theirs[0]][key]
    assert max_diff(ours, [torch.tensor(i) for i in INIT]) > 1e-2


def test_lbfgs_state_dict_resumes():
    ours, theirs = both_params()
    a = optim.LBFGS(ours, max_iter=4, line_search_fn="strong_wolfe")
    b = torch.optim.LBFGS(theirs, max_iter=4, line_search_fn="strong_wolfe")
    run_steps(a, b, ours, theirs, steps=3, closure=True)
    a2 = optim.LBFGS(ours, max_iter=4, line_search_fn="strong_wolfe")
    a2.load_state_dict(a.state_dict())
    assert run_steps(a2, b, ours, theirs, steps=3, closure=True) < 1e-10


def test_lbfgs_refuses_what_torch_refuses():
    ours, _ = both_params()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": ours[:2]}, {"params": ours[2:]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS(ours, line_search_fn="armijo")
    with pytest.raises(ValueError, match="lr"):
        optim.LBFGS(ours, lr=-1.0)
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS(ours).step()


def test_sgd_takes_torchs_positional_order():
    """SGD(params, lr, momentum, dampening, weight_decay, nesterov), as torch.optim.SGD."""
    ours, theirs = both_params()
    a = optim.SGD(ours, 0.05, 0.9, 0.0, 0.1, True)
    b = torch.optim.SGD(theirs, 0.05, 0.9, 0.0, 0.1, True)
    assert (a.param_groups[0]["weight_decay"], a.param_groups[0]["nesterov"]) == (0.1, True)
    assert run_steps(a, b, ours, theirs) < 1e-10


@pytest.mark.parametrize("cls", ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "NAdam"])
def test_unsupported_switches_are_clear_errors(cls):
    ours, _ = both_params()
    with pytest.raises(ValueError, match="fused=True is not supported"):
        getattr(optim, cls)(ours, lr=0.1, fused=True)
    with pytest.raises(ValueError, match="capturable=True is not supported"):
        getattr(optim, cls)(ours, lr=0.1, capturable=True)
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*momentun"):
        getattr(optim, cls)(ours, lr=0.1, momentun=0.9)
    with pytest.raises(TypeError, match="maximize"):
        getattr(optim, cls)(ours, lr=0.1, maximize="yes")
