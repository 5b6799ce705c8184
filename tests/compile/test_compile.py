"""cr.compile: what a replay cannot honour is detected while recording and named (the step then
runs eagerly, with a warning that says why); what changes between calls (a module's mode, a
parameter's dtype) makes it record again; what a replay returns and reads."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.jit import CompileWarning


def _linear_setup():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    return model, opt


def _update(opt, loss) -> None:
    """The end of a training step: zero_grad, backward, step."""
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_item_inside_the_step_falls_back_to_eager_with_the_reason():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        if loss.item() > 1e9:  # data-dependent Python control flow
            loss = loss * 0
        _update(opt, loss)
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
        # reads the array behind the recorder's back (the private ._data: .data and .numpy()
        # tell the recorder): the scale differs from batch to batch
        scale = cr.tensor(np.float32(1.0 if x._data.sum() > 0 else -1.0))
        loss = (model(x) * scale).sum()
        _update(opt, loss)
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
        _update(opt, loss)
        return float(loss._data)  # behind the recorder's back, as above

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
    np.testing.assert_array_equal(out.numpy(), model(cr.from_numpy(x)).numpy())
    assert fn.stats()["recordings"] == 4


def test_returned_tensors_are_detached_and_not_overwritten_by_the_next_replay():
    model, opt = _linear_setup()

    def step(x):
        loss = model(x).sum()
        _update(opt, loss)
        return loss, {"out": loss * 2}

    fn = cr.compile(step)
    x = np.ones((2, 3), np.float32)
    for _ in range(3):
        fn(x)
    loss, extra = fn(x)
    kept = loss.numpy().copy()
    fn(x)
    assert not loss.requires_grad and loss.grad_fn is None
    np.testing.assert_array_equal(loss.numpy(), kept)
    np.testing.assert_array_equal(extra["out"].numpy(), kept * 2)


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
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert fn.stats()["replays"] >= 3 and fn.stats()["recordings"] == 4


def test_replay_source_reads_as_the_steps_ops():
    model, opt = _linear_setup()

    @cr.compile
    def step(x):
        loss = model(x).sum()
        _update(opt, loss)
        return loss

    for _ in range(3):
        step(np.ones((2, 3), np.float32))
    src = step.replay_source()
    assert src.startswith("def replay(t0):") and "return (" in src
    assert step.stats()["signatures"][0]["ops"] == 4  # linear, relu, linear, sum


def test_a_model_converted_to_another_dtype_records_again():
    model, opt = _linear_setup()

    def step(x):
        # The input follows the parameters' dtype: PyTorch's Linear (and chainrule's since
        # issue 27) refuses a float32 batch into a float64 layer.
        loss = model(x.to(model[0].weight.dtype)).sum()
        _update(opt, loss)
        return loss

    fn = cr.compile(step)
    for _ in range(3):
        fn(cr.ones(2, 3))
    model.to(np.float64)  # same input signature, but the parameters changed dtype
    loss = fn(cr.ones(2, 3))
    assert loss.dtype == np.float64 and fn.stats()["recordings"] == 3


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="compile: expected the step function, got int"):
        cr.compile(5)
    with pytest.raises(ValueError, match="warmup must be at least 1"):
        cr.compile(lambda: None, warmup=0)
    with pytest.raises(ValueError, match="cache_size must be at least 1"):
        cr.compile(lambda: None, cache_size=0)


def test_retain_grad_on_an_intermediate_runs_eagerly_with_its_gradient():
    # The replay stores gradients of leaves only; an intermediate's retained .grad would be lost,
    # so the recording refuses and every call runs eagerly, with the gradient eager gives.
    model, opt = _linear_setup()
    kept = []

    def step(x):
        h = model[0](x)
        h.retain_grad()
        loss = model[2](model[1](h)).sum()
        kept.append(h)
        _update(opt, loss)
        return loss

    fn = cr.compile(step)
    with pytest.warns(CompileWarning, match=r"retain_grad\(\) on an intermediate"):
        fn(cr.ones(2, 3))
    w = model[2].weight.numpy().copy()  # the weight the next call's backward reads
    fn(cr.ones(2, 3))
    assert fn.stats()["replays"] == 0 and fn.stats()["eager_calls"] >= 1
    h = kept[-1]
    expected = (h.numpy() > 0).astype(np.float32) * w.reshape(1, 4)
    np.testing.assert_allclose(h.grad.numpy(), expected, rtol=1e-6)
