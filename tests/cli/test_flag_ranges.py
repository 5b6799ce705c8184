"""Numeric flags of ``train`` and ``caption`` outside their range, and a malformed
``caption train --channels``, refused by argparse naming the flag and what it takes, exit code 2
and nothing written; the edge values inside accepted."""

from __future__ import annotations

import os

import pytest

from chainrule.cli.main import main


# ----- numeric flags -----
@pytest.mark.parametrize(
    ("argv", "flag", "says"),
    [
        (["train", "mlp", "--epochs", "-1"], "--epochs", ">= 1, got -1"),
        (["train", "mlp", "--epochs", "0"], "--epochs", ">= 1, got 0"),
        (["train", "mlp", "--limit", "-5"], "--limit", ">= 1, got -5"),
        (["train", "mlp", "--limit", "0"], "--limit", ">= 1, got 0"),
        (["train", "mlp", "--seed", "-1"], "--seed", ">= 0, got -1"),
        (["train", "mlp", "--batch-size", "0"], "--batch-size", ">= 1, got 0"),
        (["train", "mlp", "--val-size", "-3"], "--val-size", ">= 0, got -3"),
        (["train", "mlp", "--lr", "0"], "--lr", "in (0, inf), got 0"),
        (["train", "mlp", "--lr", "nan"], "--lr", "finite number, got 'nan'"),
        (["train", "mlp", "--lr", "inf"], "--lr", "finite number, got 'inf'"),
        (["train", "mlp", "--epochs", "2.5"], "--epochs", "whole number, got '2.5'"),
        (["caption", "train", "--epochs", "-2"], "--epochs", ">= 1, got -2"),
        (["caption", "train", "--train-size", "0"], "--train-size", ">= 1, got 0"),
        (["caption", "train", "--hidden-dim", "0"], "--hidden-dim", ">= 1, got 0"),
        (["caption", "train", "--dropout", "1"], "--dropout", "in [0, 1), got 1"),
        (["caption", "train", "--dropout", "-0.1"], "--dropout", "in [0, 1), got -0.1"),
        (["caption", "train", "--minutes", "-1"], "--minutes", "in [0, inf), got -1"),
        (["caption", "train", "--seed", "-1"], "--seed", ">= 0, got -1"),
        (["caption", "eval", "m.safetensors", "--beam", "0"], "--beam", ">= 1, got 0"),
        (["caption", "eval", "m.safetensors", "--size", "-1"], "--size", ">= 1, got -1"),
        (["caption", "describe", "m.safetensors", "x.png", "--beam", "-1"], "--beam", ">= 1"),
        (["show", "m.safetensors", "--image", "-1"], "--image", ">= 0, got -1"),
    ],
)
def test_out_of_range_flags_are_refused_by_argparse_naming_the_flag(
    tmp_path, monkeypatch, capsys, argv, flag, says
):
    monkeypatch.chdir(tmp_path)  # nothing may be written, not even into runs/
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: argument {flag}: must be a" in last and says in last
    assert os.listdir(tmp_path) == []


def test_in_range_edge_values_are_accepted():
    from chainrule.cli.main import build_parser

    argv = "train mlp --epochs 1 --limit 1 --seed 0 --val-size 0 --lr 1e-9".split()
    args = build_parser().parse_args(argv)
    assert (args.epochs, args.limit, args.seed, args.val_size, args.lr) == (1, 1, 0, 0, 1e-9)
    args = build_parser().parse_args(["caption", "train", "--dropout", "0", "--minutes", "0"])
    assert (args.dropout, args.minutes) == (0.0, 0.0)


@pytest.mark.parametrize("value", ["4,8", "a,b,c", "0,8,8", "-4,8,8", "4,8,8,8", ""])
def test_caption_channels_flag_is_checked_by_argparse(tmp_path, monkeypatch, capsys, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["caption", "train", f"--channels={value}"])  # "=": "-4,8,8" is not an option
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(
        f"argument --channels: must be 3 whole numbers >= 1 separated by commas, like "
        f"32,64,64, got {value!r}"
    )
