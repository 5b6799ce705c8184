"""``chainrule explain EXPR --at a=2,b=1``: show backpropagation happen on an expression.

Prints the forward pass, the backward pass as chainrule's engine ran it (upstream gradient, local
gradient and contribution at every node, running sums where contributions meet) and the gradient of
every input; ``--paths`` adds the sum-over-paths form of the chain rule, ``--numerical`` a
central-difference check, ``--json`` gives all of it as one JSON object, ``--svg``/``--png`` draw
the graph, ``--forward b`` adds forward mode seeded at ``b``, ``--html`` writes a page that steps
through it all one node at a time. Errors go to stderr (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

DESCRIPTION = (
    "Show backpropagation happen: the forward pass, the backward pass as chainrule's engine ran "
    "it (upstream, local gradient and contribution at every node) and every input's gradient."
)

EXAMPLES = """\
examples:
  chainrule explain "(a+b)*(b+1)" --at a=2,b=1 --paths
  chainrule explain "c = a+b; d = b+1; e = c*d" --at a=2 b=1
  chainrule explain "u = u*u; u = u*u; u = u*u" --at u=1 --paths   (shared nodes)
  chainrule explain "c = a+b; d = b+1; e = c*d" --at a=2 b=1 --forward b   (forward mode)
  chainrule explain "c = a+b; d = b+1; e = c*d" --at a=2 b=1 --forward b --html e.html
  chainrule explain "3*(a + b*c)" --at a=5,b=3,c=2 --numerical --h 0.001
  chainrule explain "sigmoid(dot(w, x) + b)" --at "w=[2,-3],x=[-1,-2],b=-3" --png neuron.png
  chainrule explain --at x=2,y=3 -- "-x*y"      (an EXPR starting with - goes after --)
  chainrule explain --model nielsen --data mnist5k --batch 1 --html step.html   (a model's step)

EXPR may be statements NAME = EXPRESSION separated by ';' (a name may be assigned again; the last
statement is the output; names used before they are assigned are inputs), and may use
+ - * / ** (and unary -), numbers, the names given with --at, and the functions
exp sin cos abs log sqrt tanh sigmoid relu sum max dot; max(v) is v's largest element,
max(a, b) the elementwise maximum. Nothing else is accepted: the expression is parsed, never executed.
"""


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "expression",
        metavar="EXPR",
        nargs="?",
        help='the expression, e.g. "(a+b)*(b+1)", or statements "c = a+b; d = b+1; e = c*d"',
    )
    p.add_argument(
        "--at",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="values of the inputs: scalars or vectors, e.g. a=2 b=1, a=2,b=1 or w=[2,-3,-3] "
        "(may be repeated)",
    )
    p.add_argument("--paths", action="store_true", help="list every path and its product")
    p.add_argument(
        "--numerical", action="store_true", help="add central-difference gradient estimates"
    )
    p.add_argument(
        "--h",
        type=float,
        default=1e-6,
        metavar="H",
        help="the nudge of --numerical (default: 1e-6; the texts use 0.001)",
    )
    p.add_argument(
        "--one-sided",
        action="store_true",
        help="--numerical with (f(x+h) - f(x)) / h: one evaluation per input instead of two",
    )
    p.add_argument(
        "--forward",
        metavar="NAME",
        help="also run forward mode seeded at input NAME (w[0] for an element of a vector): the "
        "tangent of every node, checked against backpropagation, and the cost of both modes",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write one self-contained page that steps through the forward pass (and forward "
        "mode with --forward) and the backward pass, one node at a time",
    )
    p.add_argument("--svg", metavar="FILE", help="draw the graph with values and gradients (SVG)")
    p.add_argument("--png", metavar="FILE", help="draw the graph with values and gradients (PNG)")
    from chainrule.cli import explain_model

    explain_model.add_arguments(p)  # --model, --data, --batch: one step of a zoo model
    p.add_argument(
        "--rankdir",
        choices=("LR", "TB", "RL", "BT"),
        default="LR",
        help="direction of the picture: LR left to right (default), TB top to bottom, RL, BT",
    )


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers ``explain`` on the ``chainrule`` command's subparsers; its handler is ``run``."""
    p = subparsers.add_parser(
        "explain",
        help="show backpropagation step by step on an expression",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Runs ``chainrule explain`` for parsed arguments; returns the exit code (0, or 2 on error)."""
    # Imported here so that `chainrule --help` stays fast.
    from chainrule.explain import ExplainError, explain
    from chainrule.viz import GraphvizNotFoundError

    if getattr(args, "model", None):
        from chainrule.cli import explain_model

        return explain_model.run(args)
    try:
        expression, at = _expression_and_values(args.expression, args.at)
        ex = explain(expression, ",".join(at))
        if args.json:
            data = ex.to_dict(paths=args.paths, numerical=args.numerical, forward=args.forward)
            text = json.dumps(data, indent=2)
        else:
            text = ex.report(
                paths=args.paths,
                numerical=args.numerical,
                h=args.h,
                one_sided=args.one_sided,
                forward=args.forward,
            )
        print(text)
        if args.html:
            written = _write_page(args.html, ex.html(forward=args.forward))
            print(f"chainrule explain: wrote {written}", file=sys.stderr)
        for path, fmt in ((args.svg, "svg"), (args.png, "png")):
            if path:
                written = ex.draw(rankdir=args.rankdir).save(path, format=fmt)
                print(f"chainrule explain: wrote {written}", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        sys.stdout = open(os.devnull, "w")  # so that the exit flush stays quiet
        return 0
    except ExplainError as e:
        print(f"chainrule explain: error: {e.render()}", file=sys.stderr)
        return 2
    except (GraphvizNotFoundError, OSError, RuntimeError, ValueError) as e:
        print(f"chainrule explain: error: {e}", file=sys.stderr)
        return 2
    return 0


def _write_page(path: str, text: str) -> str:
    """Writes the page; a path that exists must be a regular file (a FIFO would block)."""
    from pathlib import Path

    from chainrule.errors import regular_file

    if Path(path).exists():
        regular_file(path, "HTML file")
    Path(path).write_text(text, encoding="utf-8")
    return path


def _expression_and_values(expression: str | None, at: list[str]) -> tuple[str, list[str]]:
    """``--at a=2 "a*b"`` puts the expression among the values; take it back out."""
    from chainrule.explain import ExplainError, parse_bindings

    if expression is not None:
        return expression, at
    for k in range(len(at) - 1, -1, -1):
        try:
            parse_bindings(at[k])
        except ExplainError:
            return at[k], at[:k] + at[k + 1 :]
    raise ExplainError("no expression given: chainrule explain EXPR --at NAME=VALUE ...")


def main(argv: list[str] | None = None) -> int:
    """``python -m chainrule.cli.explain EXPR --at ...``: the subcommand on its own."""
    p = argparse.ArgumentParser(
        prog="chainrule explain",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
