"""Issue 28: every malformed part of a training state given to ``--resume`` (random state,
schedule, optimiser entries, data loader) is refused in one line naming the file and the key,
as the other fields already were; before, a garbage random state said "string indices must be
integers, not 'str'" and optimiser entries "invalid literal for int()"."""

from __future__ import annotations

import copy
import shutil

import pytest

import chainrule as cr
from chainrule.cli.main import main

RUN = ["train", "mlp", "--data", "digits", "--limit", "64"]  # Adam with a cosine schedule


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "run"
    assert main([*RUN, "--epochs", "1", "--out", str(out)]) == 0
    tensors, meta = cr.load(out / "checkpoint.safetensors", with_metadata=True)
    assert meta["optimizer"]["state"] and meta["scheduler"]  # what the cases alter is there
    return out, tensors, meta


def put(*path):
    """An edit that sets ``meta[path[0]][path[1]]... = path[-1]``."""

    def edit(meta):
        node = meta
        for key in path[:-2]:
            node = node[key]
        node[path[-2]] = path[-1]

    return edit


CASES = {
    "rng-garbage": (put("rng", {"a": "garbage"}), "'rng' must be a random generator state"),
    "rng-state-a-string": (put("rng", "state", "x"), "'rng' must be a random generator state"),
    "rng-other-generator": (put("rng", "bit_generator", "MT19937"), "'rng' must be a random gen"),
    "rng-negative": (put("rng", "state", "state", -5), "'rng' must be a random generator state"),
    "rng-a-list": (put("rng", [1, 2]), "'rng' must be a random generator state"),
    "scheduler-lr-a-string": (put("scheduler", "_last_lr", "abc"),
                              "'scheduler._last_lr' must be a list of finite numbers"),
    "scheduler-T_max": (put("scheduler", "T_max", "x"), "'scheduler.T_max' must be a whole"),
    "scheduler-unknown-key": (put("scheduler", "zzz", 1), "'scheduler' must be a dict of"),
    "scheduler-huge-epoch": (put("scheduler", "last_epoch", 10**30),
                             "'scheduler.last_epoch' must be a whole number >= -1"),
    "scheduler-a-list": (put("scheduler", [1]), "'scheduler' must be a dict"),
    "optimizer-index-a-word": (put("optimizer", "state", {"abc": {"step": 1}}),
                               "'optimizer.state' must be keys that are parameter indices"),
    "optimizer-entry-a-string": (put("optimizer", "state", {"0": "x"}),
                                 "'optimizer.state.0' must be a dict of numbers"),
    "optimizer-step-a-string": (put("optimizer", "state", "0", "step", "x"),
                                "'optimizer.state.0.step' must be a whole number"),
    "optimizer-groups-a-string": (put("optimizer", "param_groups", "x"),
                                  "'optimizer.param_groups' must be a list of dicts"),
    "optimizer-params-a-string": (put("optimizer", "param_groups", 0, "params", "abc"),
                                  "'optimizer.param_groups[0].params' must be a list of"),
    "optimizer-lr-a-string": (put("optimizer", "param_groups", 0, "lr", "x"),
                              "'optimizer' does not fit this run's optimiser: Adam: lr must be"),
    "optimizer-betas": (put("optimizer", "param_groups", 0, "betas", [1]),
                        "'optimizer' does not fit this run's optimiser: Adam: betas must be"),
    "optimizer-without-state": (lambda m: m["optimizer"].pop("state"),
                                "'optimizer' must be a dict of 'state' and 'param_groups'"),
    "optimizer-index-past-the-params": (
        put("optimizer", "state", "99", {"step": 1}),
        "'optimizer' does not fit this run's optimiser: Adam.load_state_dict: there is state "
        "for parameter 99"),
    "loader-seed-a-string": (put("loader", "seed", "x"), "'loader' must be a dict of whole"),
    "loader-without-seed": (lambda m: m["loader"].pop("seed"),
                            "'loader' does not fit this run's data: 'seed'"),
    "loader-other-data": (put("loader", "num_examples", 7), "'loader' does not fit this run's"),
    "loader-sampler-garbage": (put("loader", "sampler", {"seed": "x"}),
                               "'loader.sampler' must be a dict of whole numbers"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_training_state_is_refused_by_name(trained, tmp_path, capsys, case):
    base, tensors, meta = trained
    out = tmp_path / "run"
    shutil.copytree(base, out)
    meta = copy.deepcopy(meta)
    edit, says = CASES[case]
    edit(meta)
    path = out / "checkpoint.safetensors"
    cr.save(tensors, path, metadata=meta)
    assert main([*RUN, "--epochs", "2", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), err
    assert err[0].startswith(f"chainrule train: error: {path}: malformed metadata: "), err[0]
    assert says in err[0], err[0]


def test_the_untouched_state_resumes(trained, tmp_path, capsys):
    base, _, _ = trained
    out = tmp_path / "run"
    shutil.copytree(base, out)
    assert main([*RUN, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert "resuming from" in capsys.readouterr().out


def test_a_captioners_malformed_random_state_is_refused_by_name(tmp_path, capsys):
    out = tmp_path / "cap"
    argv = ["caption", "train", "--train-size", "16", "--val-size", "4", "--batch-size", "8",
            "--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16",
            "--attention-dim", "8", "--out", str(out)]  # fmt: skip
    assert main([*argv, "--epochs", "1"]) == 0
    path = out / "checkpoint.safetensors"
    tensors, meta = cr.load(path, with_metadata=True)
    for key, value, says in (
        ("rng", {"bit_generator": "PCG64", "state": "x"}, "'rng' must be a random generator"),
        ("scheduler", {"T_max": "x"}, "'scheduler.T_max' must be a whole number"),
    ):
        cr.save(tensors, path, metadata={**meta, key: value})
        capsys.readouterr()
        assert main([*argv, "--epochs", "2", "--resume"]) == 2
        err = capsys.readouterr().err.strip().splitlines()[0]
        assert err.startswith(f"chainrule caption: error: {path}: malformed metadata"), err
        assert says in err, err
