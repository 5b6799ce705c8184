"""explain's step ``--h`` (issue 28): ``--h inf`` or ``1e308`` was taken and printed a NaN slope.
The rule, for every value x nudged by --numerical or --nudge: h finite and > 0, h <= |x| + 1,
x ± h finite and different from x in float64; anything else is one line naming --h, its value
and the limit."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.cli.main import main
from chainrule.explain import explain
from chainrule.explain.numerical import check_step


def one_error_line(capsys, argv) -> str:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's refusals
        code = e.code
    assert code == 2
    out = capsys.readouterr()
    errors = [line for line in out.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in out.err, out.err
    assert out.out == ""  # refused before anything is printed
    return errors[0]


@pytest.mark.parametrize(
    "h, says",
    [
        ("inf", "argument --h: must be a finite number, got 'inf'"),
        ("-inf", "argument --h: must be a finite number, got '-inf'"),
        ("nan", "argument --h: must be a finite number, got 'nan'"),
        ("0", "argument --h: must be a number in (0, inf), got 0"),
        ("-1", "argument --h: must be a number in (0, inf), got -1"),
        ("1e308", "--h 1e+308 is too large for a = 2.5: the step may be at most |a| + 1 = 3.5"),
        ("3.6", "--h 3.6 is too large for a = 2.5: the step may be at most |a| + 1 = 3.5"),
        ("1e-20", "--h 1e-20 is too small for a = 2.5: a ± h rounds back to 2.5 in float64; "
                  "the step must be at least 4.44089e-16"),
    ],
)  # fmt: skip
def test_a_step_that_cannot_measure_a_slope_is_refused_in_one_line(capsys, h, says):
    line = one_error_line(capsys, ["explain", "a*a", "--at", "a=2.5", "--numerical", f"--h={h}"])
    assert line == f"chainrule explain: error: {says}"


def test_the_limit_is_each_elements_own(capsys):
    argv = ["explain", "sum(w*w)", "--at", "w=[100,0.5]", "--numerical", "--h", "2"]
    line = one_error_line(capsys, argv)
    assert line.endswith(
        "--h 2 is too large for w[1] = 0.5: the step may be at most |w[1]| + 1 = 1.5"
    )


def test_nudge_follows_the_same_rule(capsys):
    argv = ["explain", "u = b*c; J = 3*u", "--at", "b=3", "c=2", "--nudge", "u", "--h", "1e308"]
    line = one_error_line(capsys, argv)
    assert line.endswith("--h 1e+308 is too large for u = 6: the step may be at most |u| + 1 = 7")


def test_a_step_that_overflows_the_value_is_refused():
    with pytest.raises(ValueError, match=r"--h 1e\+308: x = 1\.7e\+308 moved by it overflows"):
        check_step(1e308, {"x": np.array(1.7e308)})


@pytest.mark.parametrize("h", ["1", "3.5", "0.001", "1e-6"])
def test_steps_within_the_rule_still_work(capsys, h):
    assert main(["explain", "a*a", "--at", "a=2.5", "--numerical", "--h", h]) == 0
    assert "numerical check" in capsys.readouterr().out


def test_the_rule_at_its_edges():
    check_step(3.5, {"a": np.array(2.5)})  # exactly |a| + 1
    check_step(np.spacing(2.5), {"a": np.array(2.5)})
    check_step(1e300, {"x": np.array([1e308, -1e308])})  # the quiet-numerics test's point
    with pytest.raises(ValueError, match=r"too small for a = 2\.5"):
        check_step(np.spacing(2.5) / 4, {"a": np.array(2.5)})
    with pytest.raises(ValueError, match="--h must be a positive step"):
        explain("f = x*x", x=1).numerical_check(h=float("inf"))


def test_the_help_states_the_rule(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a finite H > 0, at most |x| + 1 for each value x it nudges" in text
