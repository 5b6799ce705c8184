"""ShapeError names the user's line itself, once; ``expect`` raises it from a condition."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.errors import ShapeError, expect


def test_shape_error_ends_with_the_line_that_called_the_op():
    with pytest.raises(ShapeError) as info:
        cr.ones(2, 3).mm(cr.ones(3))  # the line the message must name
    message = str(info.value)
    assert message.count("\n  at ") == 1
    assert message.rstrip().endswith(
        "cr.ones(2, 3).mm(cr.ones(3))  # the line the message must name"
    )
    assert "test_shape_error.py:" in message


def test_a_message_that_already_names_a_line_keeps_only_its_own():
    message = "op: bad shapes\n  at somewhere.py:3: f(x)"
    assert str(ShapeError(message)) == message


def test_expect_raises_what_was_expected_and_what_came():
    expect(True, "linear", "a 2-D weight", "never formatted into an error")
    with pytest.raises(
        ShapeError, match=r"^linear: expected a 2-D weight, got shape \(3,\)\n  at "
    ):
        expect(False, "linear", "a 2-D weight", "shape (3,)")
