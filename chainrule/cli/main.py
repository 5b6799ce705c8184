"""``chainrule``: the command-line entry point. Each subcommand lives in its own module with an
``add_parser(subparsers)`` and a ``run(args) -> int``; this file only wires them together and turns
errors into one clear line (no Python traceback reaches the user unless CHAINRULE_DEBUG=1), and
Ctrl-C or SIGTERM at any moment into "chainrule: interrupted" (``interrupts``)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from chainrule.cli import interrupts

# Subcommand modules, in the order `chainrule --help` lists them. A module that is not present in
# this build (optional parts) is skipped.
COMMANDS = [
    "chainrule.cli.train",
    "chainrule.cli.evaluate",
    "chainrule.cli.export",
    "chainrule.cli.datasets",
    "chainrule.cli.explain",
    "chainrule.cli.show",
    "chainrule.cli.caption",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train, evaluate, caption and explain with chainrule, a NumPy autodiff framework.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command ``argv`` (default: ``sys.argv[1:]``) and returns its exit code: 0, 2 for
    bad input, 1 for a failed run, 130/143 when SIGINT/SIGTERM interrupted it."""
    try:
        with interrupts.handling():
            code = _run(argv)
    except BaseException as e:
        if not interrupts.interrupted(e):
            raise  # argparse's exits (--help, usage errors); errors under CHAINRULE_DEBUG=1
        return interrupts.say()
    # A signal whose exception something swallowed (Python ignores one raised in a __del__).
    return interrupts.say() if interrupts.came() else code


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except Exception as e:  # every error becomes one line for the user
        if interrupts.interrupted(e) or os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule {args.command}: error: {_one_line(e)}", file=sys.stderr)
        print("  (set CHAINRULE_DEBUG=1 to see the Python traceback)", file=sys.stderr)
        return _exit_code(e)


def _one_line(e: Exception) -> str:
    msg = str(e).strip() or type(e).__name__
    if isinstance(e, (KeyError,)) and msg.startswith("'"):
        msg = f"missing key {msg}"
    return msg


def _exit_code(e: Exception) -> int:
    from chainrule.training.trainer import TrainingDiverged

    return 1 if isinstance(e, TrainingDiverged) else 2


if __name__ == "__main__":
    sys.exit(main())
