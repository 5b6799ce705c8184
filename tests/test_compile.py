"""cr.compile: a replayed step equals the eager step to the last bit, and what it cannot replay
is detected while recording (the step then runs eagerly, with a warning that says why)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.jit import CompileWarning
from chainrule.models import get_recipe
from chainrule.models.captioner import Captioner, CaptionerConfig
from chainrule.nn.utils import clip_grad_norm_


@pytest.fixture
def float64():
    before = cr.get_default_dtype()
    cr.set_default_dtype(cr.float64)
    yield
    cr.set_default_dtype(before)


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
    losses = [fn(x, y).data.copy() for x, y in batches]
    return model, opt, losses, fn


def _assert_same_state(m1, m2, o1, o2):
    for (n1, p1), (n2, p2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2
        assert p1.dtype == p2.dtype
        np.testing.assert_array_equal(p1.data, p2.data, err_msg=n1)
        assert p1.data.tobytes() == p2.data.tobytes(), n1  # bit for bit (NaN payloads, -0.0)
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
        losses.append(fn(images, inputs, targets).data.copy())
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


def _linear_setup():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    return model, opt


def test_item_inside_the_step_falls_back_to_eager_with_the_reason():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        if loss.item() > 1e9:  # data-dependent Python control flow
            loss = loss * 0
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = cr.compile(step)
    x = cr.ones(2, 3)
    with pytest.warns(CompileWarning, match=r"item\(\) at .*test_compile.py"):
        fn(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        for _ in range(3):
            fn(x)
    assert fn.stats()["replays"] == 0 and fn.stats()["eager_calls"] == 3


def test_data_dependent_constant_is_caught_by_the_second_recording():
    model, opt = _linear_setup()

    def step(x):
        # reads the data behind the recorder's back: the scale differs from batch to batch
        scale = cr.tensor(np.float32(1.0 if x.data.sum() > 0 else -1.0))
        loss = (model(x) * scale).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = cr.compile(step)
    fn(cr.ones(2, 3))
    with pytest.warns(CompileWarning, match="depends on its data"):
        fn(-cr.ones(2, 3))
    assert fn.stats()["replays"] == 0


def test_returning_a_python_number_read_from_the_data_is_refused():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.data)

    fn = cr.compile(step)
    fn(cr.ones(2, 3))
    with pytest.warns(CompileWarning, match="return the Tensor instead"):
        fn(cr.ones(2, 3) * 2)


@pytest.mark.parametrize(
    "body, reason",
    [
        (lambda loss, x: cr.grad(loss, [x], create_graph=True), "create_graph"),
        (lambda loss, x: loss.numpy(), r"numpy\(\)"),
        (lambda loss, x: bool(loss > 0), r"bool\(\)"),
    ],
    ids=["double-backward", "numpy", "bool"],
)
def test_what_a_replay_cannot_honour_is_named(body, reason):
    model, _ = _linear_setup()

    def step(x):
        loss = model(x).sum()
        body(loss, x)
        return loss

    fn = cr.compile(step)
    with pytest.warns(CompileWarning, match=reason):
        fn(cr.ones(2, 3, requires_grad=True))


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
        return [fn(x).data.copy() for _ in range(5)], fn

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
                    out.append(ev(x).data.copy())
                model.train()
            out.append(fn(x).data.copy())
        return model, out, fn

    m1, o1, _ = run(False)
    m2, o2, fn = run(True)
    for a, b in zip(o1, o2):
        np.testing.assert_array_equal(a, b)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)
    assert int(m2[1].num_batches_tracked.data) == 8
    assert fn.stats()["replays"] == 6


def test_module_mode_change_records_again():
    model, _ = _linear_setup()
    model.append(nn.Dropout(0.5))

    def step(x):
        return model(x)

    fn = cr.compile(step)
    x = np.ones((2, 3), np.float32)
    for _ in range(3):
        fn(x)
    model.eval()
    for _ in range(3):
        out = fn(x)
    np.testing.assert_array_equal(out.data, model(cr.from_numpy(x)).data)
    assert fn.stats()["recordings"] == 4


def test_returned_tensors_are_detached_and_not_overwritten_by_the_next_replay():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss, {"out": loss * 2}

    fn = cr.compile(step)
    x = np.ones((2, 3), np.float32)
    for _ in range(3):
        fn(x)
    loss, extra = fn(x)
    kept = loss.data.copy()
    fn(x)
    assert not loss.requires_grad and loss.grad_fn is None
    np.testing.assert_array_equal(loss.data, kept)
    np.testing.assert_array_equal(extra["out"].data, kept * 2)


def test_changes_made_outside_the_step_are_seen_by_the_replay():
    """A new learning rate (a scheduler between steps), frozen layers, gradients accumulated
    over calls without zero_grad."""

    def run(compiled):
        model, opt = _linear_setup()

        def step(x):
            model(x).sum().backward()  # no zero_grad: gradients accumulate

        def update():
            opt.step()
            opt.zero_grad()

        fn = cr.compile(step) if compiled else step
        x = np.ones((2, 3), np.float32)
        for k in range(8):
            fn(x * k)
            if k % 2:
                update()
                opt.param_groups[0]["lr"] *= 0.5
            if k == 5:
                model[0].weight.requires_grad_(False)
        return model, fn

    m1, _ = run(False)
    m2, fn = run(True)
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)
    assert fn.stats()["replays"] >= 3 and fn.stats()["recordings"] == 4


def test_gradients_taken_with_grad_inside_a_compiled_function():
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def f(x):
        (g,) = cr.grad((w * x).sum() * (w * w).sum(), [w])
        return g

    fn = cr.compile(f)
    for k in range(4):
        x = np.full(3, float(k), dtype=np.float32)
        want = f(x).data
        np.testing.assert_array_equal(fn(x).data, want)
    assert fn.stats()["replays"] == 2


def test_replay_source_reads_as_the_steps_ops():
    model, opt = _linear_setup()

    @cr.compile
    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for _ in range(3):
        step(np.ones((2, 3), np.float32))
    src = step.replay_source()
    assert src.startswith("def replay(t0):") and "return (" in src
    assert step.stats()["signatures"][0]["ops"] == 4  # linear, relu, linear, sum


def test_captioner_stays_float32_end_to_end():
    # No float64 slips in through a Python scalar or a constant: every array the replay makes
    # is float32 (or integer / boolean bookkeeping).
    _, _, losses, step = _captioner_run(True, True, steps=3)
    assert losses[-1].dtype == np.float32
    assert set(step.stats()["signatures"][0]["dtypes"]) <= {"float32", "int64", "bool"}


@pytest.mark.parametrize("part_lines", [5, 250])
def test_replay_holds_no_more_memory_than_eager(monkeypatch, part_lines):
    """Intermediate arrays die after their last use and what ops keep for their backward is let
    go after it: between steps and at its peak, a replay holds what an eager step holds (also
    when it runs in parts of 5 lines: a part empties the list of values it was handed)."""
    import gc
    import tracemalloc

    from chainrule.jit import replay

    monkeypatch.setattr(replay, "_PART_LINES", part_lines)

    def run(compiled):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 16 * 16, 10))  # fmt: skip
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)

        def step(x, y):
            loss = nn.functional.cross_entropy(model(cr.from_numpy(x)), cr.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        fn = cr.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        x, y = rng.random((16, 4, 32, 32)).astype(np.float32), rng.integers(0, 10, 16)
        for _ in range(4):
            fn(x, y)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fn(x, y)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return held - base, peak - base

    eager_held, eager_peak = run(False)
    replay_held, replay_peak = run(True)
    assert eager_peak > 1 << 20  # the workload is big enough to tell
    assert replay_held <= max(eager_held, 0) + (64 << 10)
    assert replay_peak <= 1.05 * eager_peak


def test_a_recording_lets_go_of_what_ops_saved_for_their_backward():
    """A recording keeps each op (the replay is made from copies of them), but the arrays an op's
    forward saved for its backward are released right after its VJP, as the graph's are in eager
    mode and the replay's are, not when the recording ends: recording costs an eager step's peak.
    """
    from chainrule.autograd.grad_mode import state

    cr.manual_seed(0)
    att = nn.AdditiveAttention(32, 16, 64)
    pool = nn.MaxPool2d(2)
    opt = cr.optim.SGD(list(att.parameters()), lr=1e-3)
    seen = []

    def step(features, h, images):
        loss = pool(cr.from_numpy(images)).sum()
        f = cr.from_numpy(features)
        for _ in range(3):
            context, _ = att(f, cr.from_numpy(h))
            loss = loss + context.sum()
        opt.zero_grad()
        loss.backward()
        rec = state.tracer  # the recording, while the step is being recorded
        if rec is not None:
            ops = [e.op for e in rec.entries if e.kind == "op"]
            seen.append({op.name for op in ops})
            seen.append(
                [
                    (op.name, k)
                    for op in ops
                    for k, v in vars(op).items()
                    if isinstance(v, np.ndarray) and v.nbytes >= 64 << 10
                ]
            )
        opt.step()
        return loss

    fn = cr.compile(step)
    rng = np.random.default_rng(0)
    args = (rng.random((16, 64, 32), dtype=np.float32), rng.random((16, 16), dtype=np.float32),
            rng.random((8, 8, 64, 64), dtype=np.float32))  # fmt: skip
    for _ in range(4):  # two recordings, then replays: the released arrays are not missed
        fn(*args)
    assert fn.stats()["replays"] == 2
    names, kept = seen[:2]
    assert {"additive_score", "max_pool2d"} <= names, names
    assert not kept
    assert seen[2:] == [names, []]
    # The replay lets go of the pooling's argmax (its input needs no gradient) after its forward.
    assert "('idx',)" in fn.replay_source()


def test_a_model_converted_to_another_dtype_records_again():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    fn = cr.compile(step)
    for _ in range(3):
        fn(cr.ones(2, 3))
    model.to(np.float64)  # same input signature, but the parameters changed dtype
    loss = fn(cr.ones(2, 3))
    assert loss.dtype == np.float64 and fn.stats()["recordings"] == 3


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
        losses = [fn(*batch(r)).data.copy() for _ in range(5)]
        runs.append((losses, [p.data.copy() for p in model.parameters()], fn, opt))
    (l1, p1, _, o1), (l2, p2, fn, o2) = runs
    assert fn.stats()["replays"] == 3 and fn.stats()["eager_calls"] == 0
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    assert [a.tobytes() for a in p1] == [b.tobytes() for b in p2]
    assert o1.param_groups[0]["lr"] == o2.param_groups[0]["lr"] < 0.1 * 0.5


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="compile: expected the step function, got int"):
        cr.compile(5)
    with pytest.raises(ValueError, match="warmup must be at least 1"):
        cr.compile(lambda: None, warmup=0)
    with pytest.raises(ValueError, match="cache_size must be at least 1"):
        cr.compile(lambda: None, cache_size=0)
