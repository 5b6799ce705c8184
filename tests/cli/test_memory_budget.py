"""Issue 15: a few characters of command line must not ask for more memory than the machine has.
``--channels 100000,8,8`` grew to 24 GB before the kernel killed it, ``--hidden-dim 100000``
died in NumPy's "Unable to allocate" naming no flag. The captioner's sizes are now costed in
Python integers and refused before anything is built. The estimates are checked here against
what a training step and a beam search really take (tracemalloc), and the count of parameters
against the model's own."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning.budget import (
    MemoryBudgetError,
    check_fits,
    decoding_bytes,
    parameter_count,
    training_bytes,
)
from chainrule.captioning.decoding import beam_search
from chainrule.captioning.loss import sequence_cross_entropy
from chainrule.cli.main import main
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models.captioner import Captioner, CaptionerConfig

CONFIGS = [
    {},
    {"attention": False},
    {"channels": (4, 8, 100), "hidden_dim": 7, "embed_dim": 5, "attention_dim": 3},
    {"attention": False, "image_size": 16, "hidden_dim": 9},
    {"image_size": 32, "channels": (8, 8, 8), "hidden_dim": 64, "attention_dim": 200},
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_parameter_count_is_the_models(kw):
    config = CaptionerConfig(vocab_size=46, **kw)
    held = sum(v.numel() for v in Captioner(config).state_dict().values())
    assert parameter_count(config) == held


def peak_bytes(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


SMALL = [
    {"channels": (8, 16, 16), "embed_dim": 16, "hidden_dim": 32, "attention_dim": 16},
    {"channels": (8, 16, 16), "embed_dim": 16, "hidden_dim": 32, "attention": False},
    {"channels": (32, 8, 8), "embed_dim": 8, "hidden_dim": 128, "attention_dim": 64},
]


@pytest.mark.parametrize("kw", SMALL)
def test_training_bytes_bound_a_real_step_within_a_small_factor(kw):
    """Forward, backward and an Adam step of a batch of 16: the estimate is above the peak
    and at most 4 times it (rough on purpose, but not meaningless)."""
    vocab = scene_vocabulary()
    config = CaptionerConfig(vocab_size=len(vocab), dropout=0.0, **kw)
    cr.manual_seed(0)
    model = Captioner(config)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    n, t = 16, 24
    images = rng.random((n, 1, 64, 64), dtype=np.float32)
    inputs = rng.integers(1, len(vocab), (n, t))

    def step():
        logits, _ = model(cr.from_numpy(images), cr.from_numpy(inputs))
        loss = sequence_cross_entropy(logits, inputs)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # Adam's moments exist from here on, as in a run's later steps
    measured = peak_bytes(step) + 4 * 4 * parameter_count(config)  # the weights, held before
    estimate = training_bytes(config, n, max_len=t)
    assert measured <= estimate <= 4 * measured, (measured, estimate)


@pytest.mark.parametrize("beam", [1, 3, 12])
def test_decoding_bytes_bound_a_real_beam_search(beam):
    vocab = scene_vocabulary()
    config = CaptionerConfig(vocab_size=len(vocab), **SMALL[0])
    cr.manual_seed(0)
    model = Captioner(config)
    images = np.random.default_rng(0).random((10, 1, 64, 64), dtype=np.float32)
    measured = peak_bytes(lambda: beam_search(model, images, vocab, beam)) + 4 * parameter_count(
        config
    )
    estimate = decoding_bytes(config, 10, beam)
    assert measured <= estimate <= 6 * measured, (measured, estimate)


def test_check_fits_refuses_in_one_line_naming_what_was_asked():
    check_fits("--x 1", 10, available=10)  # exactly fits: fine
    with pytest.raises(MemoryBudgetError) as e:
        check_fits("--hidden-dim 9", 3 * 2**30, available=2**30)
    assert str(e.value) == (
        "--hidden-dim 9 call for about 3.0 GB of memory, more than the 1.0 GB this machine has "
        "free; choose smaller sizes"
    )


def test_unknown_free_memory_means_no_check(monkeypatch):
    from chainrule.captioning import budget

    monkeypatch.setattr(budget, "available_bytes", lambda: None)
    budget.check_fits("--x 1", 10**30)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["caption", "train", "--channels", "100000,8,8"], "--channels 100000,8,8"),
        (["caption", "train", "--hidden-dim", "100000"], "--hidden-dim 100000"),
        (["caption", "train", "--embed-dim", "10000000"], "--embed-dim 10000000"),
        (["caption", "train", "--attention-dim", "10000000"], "--attention-dim 10000000"),
        (["caption", "train", "--batch-size", "100000000"], "--batch-size 100000000"),
    ],
)
def test_cli_train_sizes_that_cannot_fit_are_refused_before_anything_is_built(
    tmp_path, monkeypatch, capsys, argv, flag
):
    monkeypatch.chdir(tmp_path)
    codes = []
    peak = peak_bytes(lambda: codes.append(main(argv)))
    assert codes == [2]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and flag in err[0] and "of memory, more than the" in err[0], err
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MB before the refusal"
    assert list(tmp_path.iterdir()) == []


def test_cli_beam_that_cannot_fit_is_refused(tmp_path, capsys):
    from chainrule.captioning import save_captioner

    vocab = scene_vocabulary()
    path = tmp_path / "m.safetensors"
    save_captioner(str(path), Captioner(vocab_size=len(vocab), **SMALL[0]), vocab)
    for argv in (
        ["caption", "eval", str(path), "--beam", "100000", "--size", "2"],
        ["caption", "describe", str(path), str(tmp_path / "x.png"), "--beam", "100000"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and "--beam 100000 over" in err[0] and str(path) in err[0]
