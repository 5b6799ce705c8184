"""Argument types for the CLI's numeric flags: each refuses a value out of range at parse time,
so argparse answers with one line naming the flag (``argument --epochs: must be a whole number
>= 1, got -1``) and exit code 2, before any data is loaded or any file is written."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _shown(text: str, quote: bool = True) -> str:
    """``text`` as an error line quotes it: whole (``repr`` if ``quote``), or its start and
    length where it would flood the line (a 5,000-digit number)."""
    if len(text) <= 60:
        return repr(text) if quote else text
    return f"{text[:20]}... ({len(text)} characters)"


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        digits = text.strip().lstrip("+-").replace("_", "")
        # All digits and still refused: past Python's 4,300-digit limit on int(str).
        what = "a whole number of at most 4300 digits" if digits.isdigit() else "a whole number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {_shown(text)}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {_shown(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {_shown(text)}")
    return value


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """The type of a flag taking a whole number >= ``low`` (and <= ``high``, if given)."""

    def parse(text: str) -> int:
        value = _whole(text)
        if value < low or (high is not None and value > high):
            wanted = f">= {low}" if value < low else f"<= {high}"
            raise argparse.ArgumentTypeError(
                f"must be a whole number {wanted}, got {_shown(text, quote=False)}"
            )
        return value

    parse.__name__ = f"int>={low}" if high is None else f"int in {low}..{high}"
    return parse


def float_in(low: float, high: float = math.inf, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:  # fmt: skip
    """The type of a flag taking a finite number in the interval from ``low`` to ``high``
    (each end closed unless ``low_open`` / ``high_open``)."""
    lo, hi = ("(" if low_open else "["), (")" if high_open or high == math.inf else "]")
    interval = f"{lo}{low:g}, {'inf' if high == math.inf else f'{high:g}'}{hi}"

    def parse(text: str) -> float:
        value = _number(text)
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if below or above:
            raise argparse.ArgumentTypeError(
                f"must be a number in {interval}, got {_shown(text, quote=False)}"
            )
        return value

    parse.__name__ = f"number in {interval}"
    return parse


def whole_numbers(count: int, example: str) -> Callable[[str], tuple[int, ...]]:
    """The type of a flag taking ``count`` comma-separated whole numbers >= 1 (``example``)."""

    def parse(text: str) -> tuple[int, ...]:
        parts = text.split(",")
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            values = ()
        if len(values) != count or min(values) < 1:
            raise argparse.ArgumentTypeError(
                f"must be {count} whole numbers >= 1 separated by commas, like {example}, "
                f"got {text!r}"
            )
        return values

    parse.__name__ = f"{count} whole numbers"
    return parse


POSITIVE_INT = int_at_least(1)
COUNT = int_at_least(0)  # sizes and indices that may be 0
# NumPy's generators take no negative seed; PyTorch's take none past 2**64 - 1 (torch.manual_seed
# raises "Overflow when unpacking long long").
SEED = int_at_least(0, 2**64 - 1)
POSITIVE = float_in(0.0, low_open=True)  # learning rates
NON_NEGATIVE = float_in(0.0)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: X)" where there is a value to show, and only there: not after a
    help that already says its default ("default: the recipe's"), not for a default of None,
    and not for on/off switches, whose two flags share one default (``--attention`` and
    ``--no-attention`` would both claim "(default: True)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.nargs == 0:
            return text
        return super()._get_help_string(action)
