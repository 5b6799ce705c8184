"""Argument types for the CLI's numeric flags: each refuses a value out of range at parse time,
so argparse answers with one line naming the flag (``argument --epochs: must be a whole number
>= 1, got -1``) and exit code 2, before any data is loaded or any file is written."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """The type of a flag taking a whole number >= ``low``."""

    def parse(text: str) -> int:
        value = _whole(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text}")
        return value

    parse.__name__ = f"int>={low}"
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
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text}")
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
SEED = int_at_least(0)  # NumPy's generators take no negative seed
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
