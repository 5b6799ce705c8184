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
import itertools
import json
import os
import sys

from chainrule.cli import explain_model
from chainrule.cli.argtypes import float_in

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
  chainrule explain "sum(sigmoid(W @ x + b))" --at "W=[[0.1,0.2],[0.3,0.4]]" x=[1,2] b=0.5
  chainrule explain "L = cross_entropy(W @ x, k)" --at W:10x784 x:784 k=3 --seed 0
  chainrule explain "error = (input*weight - goal)**2" --at input=2 weight=0.5 goal=0.8 \
      --learn weight --lr 0.05 --steps 20 --plot learn.png   (gradient descent, step by step)
  chainrule explain "u = b*c; v = a + u; J = 3*v" --at a=5 b=3 c=2 --nudge u --nudge v --h 0.001
  chainrule explain "c = a+b; d = b+1; e = c*d" --at a=2 b=1 --order statements --lang zh
  chainrule explain --at x=2,y=3 -- "-x*y"      (an EXPR starting with - goes after --)
  chainrule explain --model nielsen --data mnist5k --batch 1 --html step.html   (a model's step)

EXPR may be statements NAME = EXPRESSION separated by ';' (a name may be assigned again; the last
statement is the output; names used before they are assigned are inputs), and may use
+ - * / ** @ (and unary -), .T, numbers, the names given with --at (numbers, vectors [1,2],
matrices [[1,2],[3,4]], or shapes W:30x784 filled from --seed), and the functions
exp sin cos abs log sqrt tanh sigmoid relu sum max dot mean min softmax log_softmax mse
cross_entropy softplus silu gelu leaky_relu; max(v) is v's largest element, max(a, b) the
elementwise maximum; cross_entropy(z, k) takes scores z and a class index k.
Nothing else is accepted: the expression is parsed, never executed.
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
        type=float_in(0, low_open=True),
        default=1e-6,
        metavar="H",
        help="the nudge of --numerical and --nudge (default: 1e-6; the texts use 0.001): a "
        "finite H > 0, at most |x| + 1 for each value x it nudges, and large enough to move x "
        "(x + H != x in float64)",
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
    explain_model.add_arguments(p)  # --model, --data, --batch: one step of a zoo model
    p.add_argument(
        "--rankdir",
        choices=("LR", "TB", "RL", "BT"),
        default="LR",
        help="direction of the picture: LR left to right (default), TB top to bottom, RL, BT",
    )
    _add_teaching_arguments(p)


def _add_teaching_arguments(p: argparse.ArgumentParser) -> None:
    """The texts' procedures: seeds of filled inputs, statement order, nudges, learning, language."""
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the standard normal numbers that fill an input given by its shape, "
        "W:30x784, and of --model's initialisation (default: 0)",
    )
    p.add_argument(
        "--order",
        choices=("engine", "statements"),
        default="engine",
        help="order of the backward pass: the engine's (default) or the statements' own, last "
        "statement first, each step under the statement it comes from",
    )
    p.add_argument(
        "--nudge",
        action="append",
        default=[],
        metavar="NAME",
        help="nudge the node NAME (an input or a statement's name, e.g. u) by +h and -h (--h) "
        "and show the output move, beside backprop's derivative (may be repeated)",
    )
    p.add_argument(
        "--learn",
        metavar="NAME",
        help="gradient descent on input NAME: --steps updates NAME <- NAME - lr * d out/d NAME, "
        "each printed with the gradient, the update, the new value and the new output",
    )
    p.add_argument("--lr", type=float, default=0.1, metavar="A", help="learning rate of --learn")
    p.add_argument("--steps", type=int, default=1, metavar="N", help="updates of --learn")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="with --learn: draw the output against NAME with the steps marked (.png, .svg)",
    )
    p.add_argument(
        "--lang",
        choices=("en", "zh"),
        default="en",
        help="language of the report: en (default) or zh (Chinese)",
    )


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers ``explain`` on the ``chainrule`` command's subparsers; its handler is ``run``."""
    zh = _wants_chinese(sys.argv[1:])
    p = subparsers.add_parser(
        "explain",
        help="show backpropagation step by step on an expression",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=_ChineseFormatter if zh else argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    if zh:
        _in_chinese(p)
    p.set_defaults(run=run)
    return p


def _wants_chinese(argv: list[str]) -> bool:
    """``--lang zh`` (or ``--lang=zh``) among the arguments: the help is then in Chinese."""
    pairs = itertools.pairwise(argv)
    return "--lang=zh" in argv or any(a == "--lang" and b == "zh" for a, b in pairs)


class _ChineseFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout with its own words (usage, options) in Chinese."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


def _in_chinese(p: argparse.ArgumentParser) -> None:
    """The help of ``p`` from the catalogue's Chinese (chainrule.explain.i18n)."""
    from chainrule.explain.i18n import HELP_DESCRIPTION_ZH, HELP_EXAMPLES_ZH, HELP_ZH

    p.description, p.epilog = HELP_DESCRIPTION_ZH, HELP_EXAMPLES_ZH
    p._positionals.title, p._optionals.title = "位置参数", "选项"
    for action in p._actions:
        if action.dest in HELP_ZH:
            action.help = HELP_ZH[action.dest]


def run(args: argparse.Namespace) -> int:
    """Runs ``chainrule explain`` for parsed arguments; returns the exit code (0, or 2 on error)."""
    # Imported here so that `chainrule --help` stays fast.
    from chainrule.explain import ExplainError, LearningDiverged
    from chainrule.viz import GraphvizNotFoundError

    if getattr(args, "model", None):
        return explain_model.run(args)
    try:
        return _run(args)
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        sys.stdout = open(os.devnull, "w")  # so that the exit flush stays quiet
        return 0
    except LearningDiverged as e:
        print(e.report, flush=True)
        print(f"chainrule explain: error: {e}", file=sys.stderr)
        return 2
    except ExplainError as e:
        print(f"chainrule explain: error: {e.render()}", file=sys.stderr)
        return 2
    except (GraphvizNotFoundError, OSError, RuntimeError, ValueError) as e:
        print(f"chainrule explain: error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from chainrule.explain import ExplainError, explain

    expression, at = _expression_and_values(args.expression, args.at)
    try:
        ex = explain(expression, ",".join(at), seed=args.seed, order=args.order, lang=args.lang)
    except ExplainError as e:
        if args.learn is not None and getattr(e, "kind", None) == "not_scalar":
            raise ExplainError(f"--learn {args.learn}: {e.message}") from None
        raise
    if args.learn is not None:
        return _learn(ex, args)
    if args.json:
        data = ex.to_dict(paths=args.paths, numerical=args.numerical, forward=args.forward)
        if args.nudge:
            data["nudges"] = ex.nudges_json(args.nudge, args.h)
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = ex.report(
            paths=args.paths,
            numerical=args.numerical,
            h=args.h,
            one_sided=args.one_sided,
            forward=args.forward,
        )
        if args.nudge:
            text += "\n\n" + ex.nudge_report(args.nudge, args.h)
    print(text)
    if args.html:
        written = explain_model.write_page(args.html, ex.html(forward=args.forward))
        print(f"chainrule explain: wrote {written}", file=sys.stderr)
    for path, fmt in ((args.svg, "svg"), (args.png, "png")):
        if path:
            written = ex.draw(rankdir=args.rankdir).save(path, format=fmt)
            print(f"chainrule explain: wrote {written}", file=sys.stderr)
    return 0


def _learn(ex, args: argparse.Namespace) -> int:
    """``--learn NAME --lr A --steps N``: the updates, printed (or as JSON), their picture
    with ``--plot FILE`` or ``--png FILE``, and the page with them with ``--html FILE``."""
    run = ex.learn(args.learn, lr=args.lr, steps=args.steps)
    if args.json:
        print(json.dumps(run.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(run.report())
    if args.html:  # the page: the passes at the start values, then one step per update
        written = explain_model.write_page(args.html, run.html())
        print(f"chainrule explain: wrote {written}", file=sys.stderr)
    for path in (args.plot, args.png, args.svg):
        if path:
            written = run.plot(path)
            print(f"chainrule explain: wrote {written}", file=sys.stderr)
            if run.plot_note:
                print(f"chainrule explain: note: {run.plot_note}", file=sys.stderr)
    return 0


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
    zh = _wants_chinese(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(
        prog="chainrule explain",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=_ChineseFormatter if zh else argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(p)
    if zh:
        _in_chinese(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
