"""cr.compile: a replayed step equals the eager step to the last bit, for the zoo models, the
captioner and the library's layers, losses and optimisers (what it cannot replay, and what makes
it record again: ``test_compile.py``; its memory: ``test_compile_memory.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models import get_recipe
from chainrule.models.captioner import Captioner, CaptionerConfig
from chainrule.nn.utils import clip_grad_norm_


def _classifier_batches(recipe_name: str, n: int, batch: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (batch, 784) if get_recipe(recipe_name).flatten else (batch, 1, 28, 28)
    return [(rng.random(shape).astype(dtype), rng.integers(0, 10, batch)) for _ in range(n)]


def _zoo_run(name: str, compiled: bool, batches, dtype):
    recipe = get_recipe(name)
    cr.manual_seed(0)
    model = recipe.build((1, 28, 28), 10)
    model.to(dtype)
    opt = (
        cr.optim.SGD(model.parameters(), lr=recipe.lr)
        if recipe.optimizer == "sgd"
        else cr.optim.Adam(model.parameters(), lr=recipe.lr)
    )

    def step(x, y):
        loss = recipe.loss(model(cr.from_numpy(x)), cr.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = cr.compile(step) if compiled else step
    losses = [fn(x, y).numpy().copy() for x, y in batches]
    return model, opt, losses, fn


def _assert_same_state(m1, m2, o1, o2):
    for (n1, p1), (n2, p2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2
        assert p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.numpy(), p2.numpy(), err_msg=n1)
        assert p1.numpy().tobytes() == p2.numpy().tobytes(), n1  # bit for bit (NaN payloads, -0.0)
    s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        for key in s1[k]:
            np.testing.assert_array_equal(np.asarray(s1[k][key]), np.asarray(s2[k][key]))


@pytest.mark.parametrize("name", ["nielsen", "mlp", "cnn"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_zoo_model_compiled_equals_eager_bit_for_bit(name, dtype):
    batches = _classifier_batches(name, 5, 8, dtype)
    m1, o1, l1, _ = _zoo_run(name, False, batches, dtype)
    m2, o2, l2, step = _zoo_run(name, True, batches, dtype)
    stats = step.stats()
    assert stats["recordings"] == 2 and stats["replays"] == 3 and stats["eager_calls"] == 0
    for a, b in zip(l1, l2):
        assert a.tobytes() == b.tobytes()
    _assert_same_state(m1, m2, o1, o2)
    # float32 end to end: no float64 slipped in through a Python scalar
    want = {"float64" if dtype == np.float64 else "float32", "int64", "bool"}
    assert set(stats["signatures"][0]["dtypes"]) <= want


def _captioner_run(compiled: bool, attention: bool, steps: int = 4):
    vocab = scene_vocabulary()
    cr.manual_seed(0)
    cfg = CaptionerConfig(vocab_size=len(vocab), attention=attention, channels=(4, 8, 8),
                          image_size=32, embed_dim=8, hidden_dim=16, attention_dim=8)  # fmt: skip
    model = Captioner(cfg)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)

    def step(images, inputs, targets):
        logits, alphas = model(cr.from_numpy(images), cr.from_numpy(inputs))
        loss = sequence_cross_entropy(logits, targets)
        if alphas is not None:
            loss = loss + 1.0 * attention_regularizer(alphas, targets)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        return loss

    fn = cr.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    losses = []
    for _ in range(steps):
        n, t = 3, 5
        images = rng.random((n, 1, 32, 32)).astype(cr.get_default_dtype())
        lengths = rng.integers(2, t + 1, n)
        targets = rng.integers(4, len(vocab), (n, t))
        targets[np.arange(t)[None, :] >= lengths[:, None]] = 0  # padding varies per batch
        inputs = np.concatenate([np.ones((n, 1), np.int64), targets[:, :-1]], axis=1)
        losses.append(fn(images, inputs, targets).numpy().copy())
    return model, opt, losses, fn


@pytest.mark.parametrize("attention", [True, False], ids=["attention", "no-attention"])
def test_captioner_compiled_equals_eager_bit_for_bit(float64, attention):
    m1, o1, l1, _ = _captioner_run(False, attention)
    m2, o2, l2, step = _captioner_run(True, attention)
    assert step.stats()["replays"] == 2, step.stats()
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    _assert_same_state(m1, m2, o1, o2)


@pytest.mark.parametrize("part_lines", [7, 250])
def test_long_replays_run_in_parts_and_stay_exact(float64, monkeypatch, part_lines):
    # A replay longer than _PART_LINES is compiled as several functions handing each other the
    # values still needed; with parts of 7 lines, values cross many boundaries (the forward's
    # activations, kept for the backward, cross all of them).
    from chainrule.jit import replay

    monkeypatch.setattr(replay, "_PART_LINES", part_lines)
    m1, o1, l1, _ = _captioner_run(False, True)
    m2, o2, l2, step = _captioner_run(True, True)
    source = step.replay_source()
    assert source.count("\n") > 500
    assert source.count("def _part") >= (50 if part_lines == 7 else 2)
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    _assert_same_state(m1, m2, o1, o2)


def test_replay_parts_share_only_values_that_cross_and_leave_attribute_names_alone(monkeypatch):
    from chainrule.jit import replay

    monkeypatch.setattr(replay, "_PART_LINES", 3)
    lines = [
        "s0 = t0",
        "s1 = F[0](s0)",  # s0 is used in this part only: a local
        "O[0].s1 = s1",  # the attribute s1 is not the local s1
        "s2 = F[1](s1)",  # s1 crosses into the second part
        "F[2](O[0], ('s1', 't2'))",  # names in quotes are attribute names
        "del s1",
        "return (s2,)",
    ]
    *parts, driver = replay._functions(["t0"], lines)
    source = "".join(parts) + driver
    assert "O[0].s1 = S[1]" in source and "('s1', 't2')" in source
    assert "del s1" not in source and "S[1] = None" in source
    assert "s1 = F[0](s0)" not in source and "s0 = S[0]" in source
    namespace = {"F": (lambda x: x + 1, lambda x: x * 10, lambda o, names: None),
                 "O": (type("Op", (), {})(),)}  # fmt: skip
    for src in [*parts, driver]:
        exec(src, namespace)
    assert namespace["replay"](1) == (20,)


def test_shape_change_records_again_and_stays_exact(float64):
    batches = _classifier_batches("mlp", 4, 8, np.float64) + _classifier_batches(
        "mlp", 4, 5, np.float64
    )
    batches += _classifier_batches("mlp", 2, 8, np.float64, seed=3)  # back to the first shape
    m1, o1, l1, _ = _zoo_run("mlp", False, batches, np.float64)
    m2, o2, l2, step = _zoo_run("mlp", True, batches, np.float64)
    stats = step.stats()
    assert stats["recordings"] == 4 and stats["replays"] == 6  # the first shape's replay is kept
    assert len(stats["signatures"]) == 2
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    _assert_same_state(m1, m2, o1, o2)


def test_dropout_masks_are_drawn_anew_at_every_replay():
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            out = model(x)
            loss = out.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return out

        fn = cr.compile(step) if compiled else step
        x = np.ones((4, 6), np.float32)
        return [fn(x).numpy().copy() for _ in range(5)], fn

    eager, _ = run(False)
    replayed, fn = run(True)
    assert fn.stats()["replays"] == 3
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, b)
    zeros = [tuple(np.flatnonzero(a == 0)) for a in replayed]
    assert len(set(zeros)) == 5  # a different mask each step


def test_batchnorm_running_statistics_and_train_eval_switch():
    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            loss = (model(x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        def evaluate(x):
            return model(x)

        fn = cr.compile(step) if compiled else step
        ev = cr.compile(evaluate) if compiled else evaluate
        rng = np.random.default_rng(0)
        out = []
        for k in range(8):
            x = rng.random((5, 3)).astype(np.float32)
            if k in (4, 5, 6):
                model.eval()
                with cr.no_grad():
                    out.append(ev(x).numpy().copy())
                model.train()
            out.append(fn(x).numpy().copy())
        return model, out, fn

    m1, o1, _ = run(False)
    m2, o2, fn = run(True)
    for a, b in zip(o1, o2):
        np.testing.assert_array_equal(a, b)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert int(m2[1].num_batches_tracked.numpy()) == 8
    assert fn.stats()["replays"] == 6


def test_gradients_taken_with_grad_inside_a_compiled_function():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def f(x):
        (g,) = cr.grad((w * x).sum() * (w * w).sum(), [w])
        return g

    fn = cr.compile(f)
    for k in range(4):
        x = np.full(3, float(k), dtype=np.float32)
        want = f(x).numpy()
        np.testing.assert_array_equal(fn(x).numpy(), want)
    assert fn.stats()["replays"] == 2


def test_captioner_stays_float32_end_to_end():
    # No float64 slips in through a Python scalar or a constant: every array the replay makes
    # is float32 (or integer / boolean bookkeeping).
    _, _, losses, step = _captioner_run(True, True, steps=3)
    assert losses[-1].dtype == np.float32
    assert set(step.stats()["signatures"][0]["dtypes"]) <= {"float32", "int64", "bool"}


# ----- the layers, losses and optimisers of the library, each replayed bit for bit -----
_N, _T, _D, _H = 4, 5, 6, 7


class _RNNHead(nn.Module):
    def __init__(self, cls):
        super().__init__()
        self.rnn = cls(_D, _H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(_H, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        y, _ = self.att(x, x, x)
        return self.fc(y.mean(axis=1))


class _Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(10, 4, padding_idx=0)
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, t):
        return self.fc(nn.functional.leaky_relu(self.ln(self.e(t))).mean(axis=1))


def _ce(m, x, y):
    return nn.functional.cross_entropy(m(cr.from_numpy(x)), cr.from_numpy(y))


def _seq(r):
    return r.standard_normal((_N, _T, _D)).astype(np.float32), r.integers(0, 3, _N)


def _labels_some_ignored(r):
    y = np.where(r.random(_N) < 0.3, -100, r.integers(0, 4, _N))
    return r.standard_normal((_N, 5)).astype(np.float32), y


def _sgd(ps):
    return cr.optim.SGD(ps, lr=0.1)


LIBRARY_CASES = {
    "lstm": (lambda: _RNNHead(nn.LSTM), _seq, _ce, _sgd, None),
    "gru": (lambda: _RNNHead(nn.GRU), _seq, _ce, _sgd, None),
    "rnn": (lambda: _RNNHead(nn.RNN), _seq, _ce, _sgd, None),
    "multihead-attention": (
        _Attention,
        lambda r: (r.standard_normal((_N, _T, 8)).astype(np.float32), r.integers(0, 3, _N)),
        _ce,
        _sgd,
        None,
    ),
    "embedding-layernorm-adamw": (
        _Tokens,
        lambda r: (r.integers(0, 10, (_N, _T)), r.integers(0, 3, _N)),
        _ce,
        lambda ps: cr.optim.AdamW(ps, lr=0.01),
        None,
    ),
    "cross-entropy-ignored-smoothed-rmsprop": (
        lambda: nn.Linear(5, 4),
        _labels_some_ignored,
        lambda m, x, y: nn.functional.cross_entropy(
            m(cr.from_numpy(x)), y, ignore_index=-100, label_smoothing=0.1
        ),
        lambda ps: cr.optim.RMSprop(ps, lr=0.01, momentum=0.9),
        None,
    ),
    "nll-adagrad": (
        lambda: nn.Linear(5, 4),
        lambda r: (r.standard_normal((_N, 5)).astype(np.float32), r.integers(0, 4, _N)),
        lambda m, x, y: nn.functional.nll_loss(
            nn.functional.log_softmax(m(cr.from_numpy(x)), 1), y
        ),
        lambda ps: cr.optim.Adagrad(ps, lr=0.1),
        None,
    ),
    "bce-mse-nesterov-clip-value": (
        lambda: nn.Linear(5, 2),
        lambda r: (
            r.standard_normal((_N, 5)).astype(np.float32),
            r.random((_N, 2)).astype(np.float32),
        ),
        lambda m, x, y: (
            nn.functional.binary_cross_entropy_with_logits(m(cr.from_numpy(x)), cr.from_numpy(y))
            + nn.functional.mse_loss(m(cr.from_numpy(x)), cr.from_numpy(y))
        ),
        lambda ps: cr.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda m: nn.utils.clip_grad_value_(m.parameters(), 0.05),
    ),
    "conv-stride2-batchnorm-avgpool": (
        lambda: nn.Sequential(
            nn.Conv2d(2, 3, 3, stride=2, padding=1),
            nn.BatchNorm2d(3),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(12, 3),
        ),
        lambda r: (r.standard_normal((_N, 2, 8, 8)).astype(np.float32), r.integers(0, 3, _N)),
        _ce,
        _sgd,
        None,
    ),
}


@pytest.mark.parametrize("case", list(LIBRARY_CASES))
def test_library_layers_losses_and_optimisers_replay_bit_for_bit(case):
    build, batch, loss_fn, make_opt, before_step = LIBRARY_CASES[case]
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model = build()
        opt = make_opt(list(model.parameters()))
        sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step(*b, model=model, opt=opt, sched=sched):
            loss = loss_fn(model, *b)
            opt.zero_grad()
            loss.backward()
            if before_step is not None:
                before_step(model)
            opt.step()
            sched.step()  # inside the step: replayed as a whole call
            return loss

        fn = cr.compile(step) if compiled else step
        r = np.random.default_rng(1)
        losses = [fn(*batch(r)).numpy().copy() for _ in range(5)]
        runs.append((losses, [p.numpy().copy() for p in model.parameters()], fn, opt))
    (l1, p1, _, o1), (l2, p2, fn, o2) = runs
    assert fn.stats()["replays"] == 3 and fn.stats()["eager_calls"] == 0
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    assert [a.tobytes() for a in p1] == [b.tobytes() for b in p2]
    assert o1.param_groups[0]["lr"] == o2.param_groups[0]["lr"] < 0.1 * 0.5
