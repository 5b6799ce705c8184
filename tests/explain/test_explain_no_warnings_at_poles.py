"""``chainrule explain`` at poles and overflows (x/y at y=0, log 0, exp 1000, ...) prints inf or
nan and lets no NumPy RuntimeWarning reach the user."""

from __future__ import annotations

import pytest
from cli_checks import run_cli


@pytest.mark.parametrize(
    ("expr", "at", "more"),
    [
        ("x/y", "x=1,y=0", []),  # the pole
        ("x/y", "x=0,y=0", ["--numerical"]),
        ("log(x)", "x=0", ["--numerical"]),
        ("sqrt(x)", "x=-1", ["--paths"]),
        ("x**y", "x=0,y=-1", ["--json"]),
        ("exp(x)", "x=1000", ["--numerical", "--one-sided"]),
        ("exp(exp(x))*0", "x=800", []),
        ("1/(x-y)", "x=1e308,y=-1e308", ["--numerical", "--h", "1e300"]),
    ],
)
def test_explain_at_poles_and_overflow_is_quiet(capsys, expr, at, more):
    rc, out, err, caught = run_cli(capsys, ["explain", expr, "--at", at, *more])
    assert rc == 0 and caught == [] and err == ""
    assert "inf" in out or "nan" in out
