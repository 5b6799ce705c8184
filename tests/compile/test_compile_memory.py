"""cr.compile's memory: a replay, and the recordings before it, hold no more than an eager step."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


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
