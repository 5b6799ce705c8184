"""Numbers on the command line past what they can mean (issue 28): a seed past PyTorch's range
(torch.manual_seed refuses 2**64 and more) and numbers thousands of digits long, each refused in
one line that quotes a readable part of what was typed."""

from __future__ import annotations

import pytest
import torch

from chainrule.cli.main import main

BIG = "1" + "0" * 5000


def usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1 and len(lines[0]) < 200, lines
    return lines[0]


@pytest.mark.parametrize("command", [["train", "mlp"], ["caption", "train"]])
def test_a_seed_past_pytorchs_range_is_refused(capsys, command):
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        torch.manual_seed(2**64)
    torch.manual_seed(2**64 - 1)  # the largest PyTorch takes
    line = usage_error(capsys, [*command, "--seed", str(2**64)])
    assert line.endswith(f"argument --seed: must be a whole number <= {2**64 - 1}, got {2**64}")


def test_a_number_of_5000_digits_is_quoted_by_its_start_and_length(capsys):
    line = usage_error(capsys, ["train", "mlp", "--epochs", BIG])
    assert line.endswith(
        "argument --epochs: must be a whole number of at most 4300 digits, got "
        "10000000000000000000... (5001 characters)"
    )
    line = usage_error(capsys, ["train", "mlp", "--lr", "-0.5" + "0" * 5000])
    assert line.endswith(
        "argument --lr: must be a number in (0, inf), got -0.50000000000000000... (5004 characters)"
    )
