"""Optimisers and learning-rate schedules, with PyTorch as the oracle.

Every optimiser and variant runs side by side with torch.optim on the same parameters and the
same gradients (float64), and the parameters must agree after every step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from chainrule.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR

torch = pytest.importorskip("torch")

SHAPES = [(3,), (2, 4), (2, 3, 2), ()]

# (name, chainrule class, torch class name, kwargs): every variant of every update rule.
CASES = [
    ("sgd", SGD, "SGD", dict(lr=0.1)),
    ("sgd-momentum", SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd-dampening", SGD, "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd-nesterov", SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd-nesterov-wd", SGD, "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("sgd-wd", SGD, "SGD", dict(lr=0.1, weight_decay=0.2)),
    ("adagrad", Adagrad, "Adagrad", dict()),
    (
        "adagrad-all",
        Adagrad,
        "Adagrad",
        dict(lr=0.1, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6),
    ),
    ("rmsprop", RMSprop, "RMSprop", dict()),
    ("rmsprop-centered", RMSprop, "RMSprop", dict(centered=True)),
    ("rmsprop-momentum", RMSprop, "RMSprop", dict(momentum=0.9)),
    (
        "rmsprop-all",
        RMSprop,
        "RMSprop",
        dict(lr=0.02, alpha=0.3, centered=True, momentum=0.5, weight_decay=0.1),
    ),
    ("adam", Adam, "Adam", dict(lr=0.01)),
    ("adam-amsgrad", Adam, "Adam", dict(lr=0.01, amsgrad=True)),
    ("adam-wd", Adam, "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam-betas", Adam, "Adam", dict(lr=0.01, betas=(0.3, 0.8), eps=1e-6, amsgrad=True)),
    ("adamw", AdamW, "AdamW", dict(lr=0.01)),
    ("adamw-amsgrad-wd", AdamW, "AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
]
IDS = [c[0] for c in CASES]


def make_params(rng, dtype=np.float64):
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def set_grads(ours, theirs, rng, step):
    """Random gradients; parameter 1 has none on step 2 (both libraries must skip it)."""
    for k, (p, q) in enumerate(zip(ours, theirs)):
        if k == 1 and step == 2:
            p.grad = q.grad = None
            continue
        g = rng.standard_normal(p.shape)
        p.grad = cr.tensor(g)
        q.grad = torch.tensor(g)


def assert_params_match(ours, theirs, step):
    for k, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(
            p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"param {k}, step {step}"
        )


@pytest.mark.parametrize(("name", "cls", "tname", "kwargs"), CASES, ids=IDS)
def test_matches_torch(name, cls, tname, kwargs, rng):
    ours, theirs = make_params(rng)
    opt = cls(ours, **kwargs)
    topt = getattr(torch.optim, tname)(theirs, **kwargs)
    for step in range(6):
        set_grads(ours, theirs, rng, step)
        grads_before = [None if p.grad is None else p.grad.numpy().copy() for p in ours]
        opt.step()
        topt.step()
        assert_params_match(ours, theirs, step)
        for p, g in zip(ours, grads_before):  # the gradient is read, never written
            if g is not None:
                np.testing.assert_array_equal(p.grad.numpy(), g)
    # The state uses torch's names (torch keeps an empty momentum_buffer slot for plain SGD).
    tstate = topt.state_dict()["state"]
    for i in range(len(ours)):
        tkeys = {k for k, v in tstate.get(i, {}).items() if v is not None}
        assert set(opt.state.get(i, {})) == tkeys


@pytest.mark.parametrize(("name", "cls", "tname", "kwargs"), CASES[::3], ids=IDS[::3])
def test_param_groups_match_torch(name, cls, tname, kwargs, rng):
    """Two groups: the second overrides the lr (and weight decay, where it applies)."""
    ours, theirs = make_params(rng)
    extra = {"weight_decay": 0.05} if "weight_decay" not in kwargs else {}
    base = {k: v for k, v in kwargs.items() if k != "lr"}
    lr = kwargs.get("lr", 0.01)
    opt = cls([{"params": ours[:2]}, {"params": ours[2:], "lr": lr / 3, **extra}], lr=lr, **base)
    topt = getattr(torch.optim, tname)(
        [{"params": theirs[:2]}, {"params": theirs[2:], "lr": lr / 3, **extra}], lr=lr, **base
    )
    assert opt.param_groups[1]["lr"] == lr / 3
    assert opt.param_groups[0]["lr"] == lr
    for step in range(5):
        set_grads(ours, theirs, rng, step)
        opt.step()
        topt.step()
        assert_params_match(ours, theirs, step)
    assert opt.state_dict()["param_groups"][1]["params"] == [2, 3]


@pytest.mark.parametrize(("name", "cls", "tname", "kwargs"), CASES, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, cls, tname, kwargs, rng):
    ours, _ = make_params(rng)
    opt = cls([{"params": ours[:1]}, {"params": ours[1:]}], **kwargs)
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(6)]

    def run(params, optimizer, steps):
        for gs in steps:
            for p, g in zip(params, gs):
                p.grad = cr.tensor(g)
            optimizer.step()

    run(ours, opt, grads[:3])
    sd = opt.state_dict()
    clones = [cr.tensor(p.numpy().copy(), requires_grad=True) for p in ours]
    opt2 = cls([{"params": clones[:1]}, {"params": clones[1:]}], lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    snapshot = {i: {k: np.copy(v) for k, v in s.items()} for i, s in sd["state"].items()}
    run(ours, opt, grads[3:])
    run(clones, opt2, grads[3:])
    for p, c in zip(ours, clones):
        np.testing.assert_array_equal(p.numpy(), c.numpy())
    # The snapshot did not move with training, and the loaded state does not alias it.
    for i, s in sd["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])


def test_load_torch_state_dict_continues_like_torch(rng):
    """A torch Adam state dict (tensors converted to arrays) loads as it is: same layout."""
    ours, theirs = make_params(rng)
    topt = torch.optim.Adam(theirs, lr=0.01, amsgrad=True, weight_decay=0.1)
    for _ in range(3):
        for q in theirs:
            q.grad = torch.tensor(rng.standard_normal(q.shape))
        topt.step()
    tsd = topt.state_dict()
    sd = {
        "state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    for p, q in zip(ours, theirs):
        p.data[...] = q.detach().numpy()
    opt = Adam(ours)
    opt.load_state_dict(sd)
    assert opt.state[0]["step"] == 3
    assert opt.param_groups[0]["amsgrad"] is True
    for step in range(3):
        set_grads(ours, theirs, rng, step)
        opt.step()
        topt.step()
        assert_params_match(ours, theirs, step)


def test_load_state_dict_checks_before_changing_anything(rng):
    ours, _ = make_params(rng)
    opt = Adam(ours, lr=0.01)
    for p in ours:
        p.grad = cr.tensor(np.ones(p.shape))
    opt.step()
    sd = opt.state_dict()
    sd["state"][2]["exp_avg"] = np.zeros((5, 5))
    sd["param_groups"][0]["lr"] = 0.5
    fresh = Adam(ours, lr=0.01)
    with pytest.raises(ValueError, match=r"exp_avg.*parameter 2.*\(5, 5\).*\(2, 3, 2\)"):
        fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.01 and fresh.state == {}
    with pytest.raises(ValueError, match=r"1 parameter group.*2"):
        Adam([{"params": ours[:2]}, {"params": ours[2:]}]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match=r"4 parameter.*3 here"):
        Adam(ours[:3]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        fresh.load_state_dict({"weights": 1})


@pytest.mark.parametrize(("name", "cls", "tname", "kwargs"), CASES, ids=IDS)
def test_float32_stays_float32(name, cls, tname, kwargs, rng):
    ours, _ = make_params(rng, np.float32)
    ref, _ = make_params(np.random.default_rng(0), np.float64)
    # NumPy float64 hyperparameters would upcast the arithmetic; they are turned into floats.
    kw = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in kwargs.items()}
    opt, opt64 = cls(ours, **kw), cls(ref, **kwargs)
    assert all(type(v) is float for v in opt.param_groups[0].values() if isinstance(v, float))
    arrays = [p.numpy() for p in ours]
    for _ in range(4):
        for p, r in zip(ours, ref):
            g = rng.standard_normal(p.shape)
            # float32: PyTorch (and chainrule since issue 27) refuses a float64 .grad on a
            # float32 parameter, so only the hyperparameters can try to upcast here.
            p.grad = cr.tensor(g, dtype=cr.float32)
            r.grad = cr.tensor(g)
        opt.step()
        opt64.step()
    for p, r, a in zip(ours, ref, arrays):
        assert p.numpy() is a and p.dtype == np.float32  # updated in place, dtype kept
        np.testing.assert_allclose(p.numpy(), r.numpy(), rtol=1e-4, atol=1e-5)
    for s in opt.state.values():
        for v in s.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_zero_grad_and_step_skip_and_closure():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    v = cr.tensor([3.0], requires_grad=True)
    opt = SGD([w, v], lr=0.5)
    loss = opt.step(lambda: ((w * w).sum() + (v * v).sum()).backward() or 7.0)
    assert loss == 7.0
    np.testing.assert_allclose(w.numpy(), [0.0, 0.0])  # w - 0.5 * 2w
    old = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is not old and np.all(w.grad.numpy() == 0) and np.all(old.numpy() == [2.0, 4.0])
    opt.zero_grad()
    assert w.grad is None and v.grad is None
    opt.step()  # no gradients at all: nothing moves, no state is made
    np.testing.assert_allclose(v.numpy(), [0.0])
    assert opt.state == {}


def test_grad_shape_mismatch_is_an_error():
    w = cr.tensor(np.zeros((2, 3)), requires_grad=True)
    opt = Adam([w])
    with pytest.raises(RuntimeError, match=r"assigned grad has shape \(3, 2\).*\(2, 3\)"):
        w.grad = cr.tensor(np.zeros((3, 2)))  # refused where it is assigned, as in PyTorch
    w._grad = cr.tensor(np.zeros((3, 2)))  # behind the setter's back: the optimiser still checks
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(2, 3\).*grad.*\(3, 2\)"):
        opt.step()


W = cr.tensor([1.0], requires_grad=True)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SGD([W], lr=-0.1), ValueError, "SGD: invalid lr -0.1"),
        (lambda: SGD([W], lr=float("nan")), ValueError, "invalid lr nan"),
        (lambda: SGD([W], lr="0.1"), TypeError, "lr must be a real number"),
        (lambda: SGD([W], lr=0.1, momentum=-0.5), ValueError, "invalid momentum"),
        (lambda: SGD([W], lr=0.1, nesterov=True), ValueError, "Nesterov.*momentum > 0"),
        (lambda: SGD([W], 0.1, 0.9, nesterov=True, dampening=0.1), ValueError, "dampening"),
        (lambda: SGD([W], lr=0.1, weight_decay=-1), ValueError, "invalid weight_decay"),
        (lambda: Adam([W], betas=(1.0, 0.999)), ValueError, r"beta1 1.0; it must be in \[0, 1\)"),
        (lambda: Adam([W], betas=(0.9, -0.1)), ValueError, "beta2"),
        (lambda: Adam([W], betas=0.9), TypeError, "betas must be a pair"),
        (lambda: Adam([W], eps=-1e-8), ValueError, "invalid eps"),
        (lambda: AdamW([W], amsgrad="yes"), TypeError, "amsgrad must be True or False"),
        (lambda: Adagrad([W], lr_decay=-1), ValueError, "Adagrad: invalid lr_decay"),
        (lambda: Adagrad([W], initial_accumulator_value=-1), ValueError, "initial_acc"),
        (lambda: RMSprop([W], alpha=1.5), ValueError, r"alpha 1.5; it must be in \[0, 1\]"),
        (lambda: RMSprop([W], momentum=-1), ValueError, "invalid momentum"),
        (lambda: Adam([{"params": [W], "lr": -1}]), ValueError, "invalid lr -1"),
        (lambda: Adam([]), ValueError, "empty parameter list"),
        (lambda: Adam(W), TypeError, "single Tensor"),
        (lambda: Adam({W}), TypeError, "got a set"),
        (lambda: Adam({"params": [W]}), TypeError, "got a single dict"),
        (lambda: Adam([W, W]), ValueError, "more than once"),
        (lambda: Adam([{"params": [W]}, {"params": [W]}]), ValueError, "more than once"),
        (lambda: Adam([W * 2]), ValueError, "not a leaf"),
        (lambda: Adam([np.zeros(3)]), TypeError, "is a ndarray, expected a Tensor"),
        (lambda: Adam([cr.tensor([1, 2])]), TypeError, "int64"),
        (lambda: Adam([W, {"params": [W]}]), TypeError, "parameter 1 of group 0 is a dict"),
        (lambda: Adam([{"lr": 0.1}]), ValueError, "no 'params'"),
    ],
)
def test_hyperparameter_validation(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ----- schedulers -----
def _pair(lrs=(0.1, 0.02)):
    """A chainrule and a torch SGD, each with one parameter group per lr."""
    ours = SGD([{"params": [cr.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs], lr=1.0)
    theirs = torch.optim.SGD(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=1.0
    )
    return ours, theirs


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (StepLR, dict(step_size=7, gamma=0.5)),
        (StepLR, dict(step_size=1)),
        (CosineAnnealingLR, dict(T_max=10, eta_min=0.001)),
        (CosineAnnealingLR, dict(T_max=7)),
    ],
)
def test_epoch_schedulers_match_torch(cls, kwargs):
    ours, theirs = _pair()
    sched = cls(ours, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, cls.__name__)(theirs, **kwargs)
    assert sched.get_last_lr() == tsched.get_last_lr() == [0.1, 0.02]
    for epoch in range(30):
        ours.step()
        theirs.step()
        sched.step()
        tsched.step()
        np.testing.assert_allclose(
            sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-13, atol=0, err_msg=f"epoch {epoch}"
        )
        assert [g["lr"] for g in ours.param_groups] == sched.get_last_lr()


def test_cosine_follows_its_closed_form():
    ours, _ = _pair((0.1,))
    sched = CosineAnnealingLR(ours, T_max=10, eta_min=0.01)
    for epoch in range(1, 21):
        sched.step()
        expect = 0.01 + 0.09 * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expect, rel=1e-12)


METRICS = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.9, 0.8, 0.85, 0.85, 0.86, 0.87, 0.88, 0.7] * 3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=2),
        dict(mode="max", factor=0.5, patience=1, threshold=0.01, threshold_mode="abs"),
        dict(patience=1, cooldown=2, min_lr=[0.005, 0.01], factor=0.3),
        dict(patience=0, threshold=0.05, min_lr=0.001),
    ],
)
def test_reduce_on_plateau_matches_torch(kwargs):
    ours, theirs = _pair()
    sched = ReduceLROnPlateau(ours, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    seen = set()
    for epoch, metric in enumerate(METRICS):
        sched.step(cr.tensor(metric) if epoch % 2 else metric)
        tsched.step(metric)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13), epoch
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        seen.add(sched.get_last_lr()[0])
    assert len(seen) >= 3  # the lr was actually reduced, more than once


def test_scheduler_state_dict_round_trip():
    ours, _ = _pair()
    sched = CosineAnnealingLR(ours, T_max=8, eta_min=0.001)
    for _ in range(5):
        sched.step()
    sd, osd = sched.state_dict(), ours.state_dict()
    twin, _ = _pair((7.0, 7.0))
    twin.load_state_dict(osd)
    sched2 = CosineAnnealingLR(twin, T_max=1)
    sched2.load_state_dict(sd)
    for _ in range(10):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()

    plateau = ReduceLROnPlateau(ours, patience=1)
    for m in METRICS[:9]:
        plateau.step(m)
    twin2, _ = _pair()
    twin2.load_state_dict(ours.state_dict())
    plateau2 = ReduceLROnPlateau(twin2)
    plateau2.load_state_dict(plateau.state_dict())
    for m in METRICS[9:]:
        plateau.step(m)
        plateau2.step(m)
        assert plateau.get_last_lr() == plateau2.get_last_lr()
    with pytest.raises(ValueError, match="unknown keys"):
        plateau2.load_state_dict(sd)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda o: StepLR(o, step_size=0), "step_size must be an integer >= 1"),
        (lambda o: CosineAnnealingLR(o, T_max=0), "T_max"),
        (lambda o: ReduceLROnPlateau(o, factor=1.0), r"factor must be in \(0, 1\)"),
        (lambda o: ReduceLROnPlateau(o, mode="avg"), "mode must be 'min' or 'max'"),
        (lambda o: ReduceLROnPlateau(o, threshold_mode="x"), "threshold_mode"),
        (lambda o: ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lr"),
        (lambda o: ReduceLROnPlateau(o, patience=-1), "patience"),
    ],
)
def test_scheduler_validation(make, match):
    ours, _ = _pair()
    with pytest.raises(ValueError, match=match):
        make(ours)
    with pytest.raises(TypeError, match="expected an optimizer"):
        StepLR(object(), step_size=1)
