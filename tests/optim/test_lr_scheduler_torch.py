"""The learning-rate schedules beside torch.optim.lr_scheduler: the same lr (and cycled
momentum) sequence over 40 steps, to 1e-12, for two parameter groups with different lrs; and a
schedule stopped, saved with state_dict and loaded into a fresh one continues the sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as ours_sched

torch = pytest.importorskip("torch")
tsched = torch.optim.lr_scheduler

STEPS = 40


class Warmup:
    """A callable object: its state (``__dict__``) travels in state dicts, as in PyTorch."""

    def __init__(self, n: int):
        self.n = n

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.n)


# (id, optimiser class name, optimiser kwargs, scheduler factory given (lib, optimizer))
CASES = [
    ("lambda", "SGD", {}, lambda s, o: s.LambdaLR(o, lambda e: 0.95**e)),
    ("lambda-list", "SGD", {}, lambda s, o: s.LambdaLR(o, [Warmup(5), lambda e: 1 / (1 + e)])),
    ("multiplicative", "SGD", {}, lambda s, o: s.MultiplicativeLR(o, lambda e: 0.9)),
    ("multistep", "SGD", {}, lambda s, o: s.MultiStepLR(o, [3, 10, 10, 25], gamma=0.5)),
    ("exponential", "SGD", {}, lambda s, o: s.ExponentialLR(o, gamma=0.93)),
    ("linear", "SGD", {}, lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=12)),
    ("linear-down", "SGD", {}, lambda s, o: s.LinearLR(o, 1.0, 0.2, total_iters=17)),
    ("constant", "SGD", {}, lambda s, o: s.ConstantLR(o, factor=0.25, total_iters=7)),
    ("warm-restarts", "SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(o, 5, eta_min=1e-3)),
    ("warm-restarts-mult", "SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(o, 3, T_mult=2)),
    ("onecycle", "SGD", {"momentum": 0.9}, lambda s, o: s.OneCycleLR(o, 0.5, total_steps=STEPS)),
    (
        "onecycle-linear-3phase-adam",
        "Adam",
        {},
        lambda s, o: s.OneCycleLR(
            o, [0.1, 0.2], epochs=4, steps_per_epoch=10, anneal_strategy="linear", three_phase=True
        ),
    ),
    (
        "onecycle-nomomentum",
        "Adagrad",
        {},
        lambda s, o: s.OneCycleLR(o, 0.3, STEPS, cycle_momentum=False),
    ),
    ("cyclic", "SGD", {"momentum": 0.9}, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=4)),
    (
        "cyclic-triangular2",
        "SGD",
        {"momentum": 0.9},
        lambda s, o: s.CyclicLR(o, [0.01, 0.02], 0.1, 3, 5, mode="triangular2"),
    ),
    (
        "cyclic-exp-range-adam",
        "Adam",
        {},
        lambda s, o: s.CyclicLR(o, 0.001, 0.01, 5, mode="exp_range", gamma=0.97),
    ),
    (
        "cyclic-scale-fn",
        "SGD",
        {},
        lambda s, o: s.CyclicLR(
            o,
            0.01,
            0.1,
            4,
            scale_fn=lambda x: 0.5**x,
            scale_mode="iterations",
            cycle_momentum=False,
        ),
    ),
    (
        "sequential",
        "SGD",
        {},
        lambda s, o: s.SequentialLR(
            o,
            [s.LinearLR(o, 0.1, total_iters=5), s.ExponentialLR(o, 0.9), s.StepLR(o, 4, 0.5)],
            milestones=[5, 20],
        ),
    ),
    (
        "sequential-cosine",
        "SGD",
        {},
        lambda s, o: s.SequentialLR(
            o, [s.ConstantLR(o, 0.5, total_iters=3), s.CosineAnnealingLR(o, T_max=10)], [8]
        ),
    ),
]
IDS = [c[0] for c in CASES]


def build(lib, opt_name, opt_kwargs, factory):
    """A two-group optimiser (lrs 0.1 and 0.05) and its schedule, in chainrule or torch."""
    if lib is cr:
        w, b = cr.tensor(np.ones(3), requires_grad=True), cr.tensor(np.ones(2), requires_grad=True)
        opt = getattr(optim, opt_name)(
            [{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **opt_kwargs
        )
        return opt, factory(ours_sched, opt)
    w, b = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = getattr(torch.optim, opt_name)(
        [{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1, **opt_kwargs
    )
    return opt, factory(tsched, opt)


def momenta(opt):
    out = []
    for g in opt.param_groups:
        if "betas" in g:
            out.append(float(g["betas"][0]))
        elif "momentum" in g:
            out.append(float(g["momentum"]))
    return out


def sequence(opt, sched, steps):
    rows = []
    for _ in range(steps):
        rows.append([float(x) for x in sched.get_last_lr()] + momenta(opt))
        opt.step()  # no gradients: a no-op that keeps torch from warning about the order
        sched.step()
    return np.array(rows)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name, opt_name, opt_kwargs, factory", CASES, ids=IDS)
def test_sequence_matches_torch(name, opt_name, opt_kwargs, factory):
    ours = sequence(*build(cr, opt_name, opt_kwargs, factory), STEPS)
    theirs = sequence(*build(torch, opt_name, opt_kwargs, factory), STEPS)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert np.ptp(ours[:, 0]) > 1e-3  # the schedule did change the lr


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name, opt_name, opt_kwargs, factory", CASES, ids=IDS)
def test_state_dict_resumes(name, opt_name, opt_kwargs, factory):
    """15 steps, state_dict, a fresh optimiser and schedule loading both states: the remaining
    steps equal torch's uninterrupted sequence."""
    opt, sched = build(cr, opt_name, opt_kwargs, factory)
    sequence(opt, sched, 15)
    opt_sd, sched_sd = opt.state_dict(), sched.state_dict()
    opt2, sched2 = build(cr, opt_name, opt_kwargs, factory)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sched_sd)
    ours = sequence(opt2, sched2, STEPS - 15)
    theirs = sequence(*build(torch, opt_name, opt_kwargs, factory), STEPS)[15:]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_callable_object_state_travels():
    _opt, sched = build(cr, "SGD", {}, lambda s, o: s.LambdaLR(o, Warmup(5)))
    sd = sched.state_dict()
    assert sd["lr_lambdas"][0] == {"n": 5}
    _opt2, sched2 = build(cr, "SGD", {}, lambda s, o: s.LambdaLR(o, Warmup(9)))
    sched2.load_state_dict(sd)
    assert sched2.lr_lambdas[0].n == 5


def test_warm_restarts_fractional_epoch_matches_torch():
    """Stepping per batch with step(epoch + i / n), as PyTorch's docs show."""
    _o1, s1 = build(cr, "SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(o, 2, T_mult=2))
    _o2, s2 = build(torch, "SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(o, 2, T_mult=2))
    for epoch in range(8):
        for i in range(4):
            s1.step(epoch + i / 4)
            s2.step(epoch + i / 4)
            assert max(abs(a - b) for a, b in zip(s1.get_last_lr(), s2.get_last_lr())) < 1e-12


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda s, o: s.ConstantLR(o, factor=1.5), "factor"),
        (lambda s, o: s.LinearLR(o, start_factor=0.0), "start_factor"),
        (lambda s, o: s.ExponentialLR(o, gamma=-1.0), "gamma"),
        (lambda s, o: s.MultiStepLR(o, [2, -1]), "milestone"),
        (lambda s, o: s.CosineAnnealingWarmRestarts(o, 0), "T_0"),
        (lambda s, o: s.OneCycleLR(o, 0.1), "total_steps"),
        (lambda s, o: s.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), "anneal_strategy"),
        (lambda s, o: s.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), "mode"),
        (lambda s, o: s.LambdaLR(o, [lambda e: 1.0]), "one per group"),
        (lambda s, o: s.SequentialLR(o, [s.ExponentialLR(o, 0.9)], [3]), "milestones"),
    ],
)
def test_bad_arguments(factory, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build(cr, "SGD", {"momentum": 0.9}, factory)


def test_onecycle_refuses_a_step_past_the_end():
    _opt, sched = build(cr, "SGD", {"momentum": 0.9}, lambda s, o: s.OneCycleLR(o, 0.1, 3))
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()
    assert math.isfinite(sched.get_last_lr()[0])
