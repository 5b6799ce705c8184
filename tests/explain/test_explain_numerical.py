"""explain's numerical check: the nudges f(x ± h) shown, the evaluations counted, and kinks, ties
and poles flagged instead of a silent disagreement; no RuntimeWarning reaches the user."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chainrule.explain import explain


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_the_texts_nudge_33_to_33_003():
    ex = explain("J = 3*(a + b*c)", a=5, b=3, c=2)
    check = ex.numerical_check(h=0.001)
    assert check.base == 33.0 and check.evaluations == 6 and check.notes == []
    a = check.rows[0]
    assert (a.label, a.plus, a.minus) == ("a", pytest.approx(33.003), pytest.approx(32.997))
    assert [r.estimate for r in check.rows] == [pytest.approx(v, abs=1e-9) for v in (3, 6, 9)]
    got = lines(ex.report(numerical=True, h=0.001))
    assert any(line.startswith("a 33.003 32.997 3 3 ") for line in got)
    assert any(line.startswith("evaluations of f: 6 (2 per input element") for line in got)


def test_one_sided_counts_one_evaluation_per_input():
    check = explain("J = 3*(a + b*c)", a=5, b=3, c=2).numerical_check(h=0.001, one_sided=True)
    assert check.evaluations == 3
    assert [r.minus for r in check.rows] == [33.0] * 3
    assert check.rows[1].estimate == pytest.approx(6.0, abs=1e-2)  # one-sided error O(h)


def test_relu_kink_is_flagged():
    check = explain("f = relu(x)", x=0).numerical_check()
    (row,) = check.rows
    assert (row.backprop, row.estimate, row.flagged) == (0.0, pytest.approx(0.5), True)
    assert len(check.notes) == 1 and "a kink" in check.notes[0]


def test_pole_and_tie_are_flagged():
    check = explain("f = x/y", x=1, y=0).numerical_check()
    assert all(r.flagged for r in check.rows)
    assert "at a pole (the divisor is 0)" in check.notes[0]
    # At a tie the central difference happens to agree with the 0.5/0.5 split (nothing to mark);
    # a one-sided nudge sees slope 1 and is marked. The tie is noted either way.
    ex = explain("m = max(a, b)", a=2, b=2)
    check = ex.numerical_check()
    assert [(r.backprop, r.flagged) for r in check.rows] == [(0.5, False), (0.5, False)]
    assert "at a tie" in check.notes[0]
    check = ex.numerical_check(one_sided=True)
    assert [r.estimate for r in check.rows] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert all(r.flagged for r in check.rows)
    assert not explain("m = max(a, b)", a=3, b=2).numerical_check().notes


def test_bad_h_is_refused():
    with pytest.raises(ValueError, match="--h must be a positive step"):
        explain("f = x*x", x=1).numerical_check(h=0)


@pytest.mark.parametrize("extra", [[], ["--json", "--paths"]])
def test_no_runtime_warning_reaches_the_user(extra):
    for expr, at in [("f = x/y", "x=1,y=0"), ("f = log(x)", "x=0"), ("f = relu(x)", "x=0")]:
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "chainrule.cli.explain",
                expr,
                "--at",
                at,
                "--numerical",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0 and "Warning" not in p.stderr, p.stderr
