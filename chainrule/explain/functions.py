"""The functions of the explain language: each name, how many arguments it takes, and the public
chainrule function it calls (the one ``cr.X`` or ``F.X`` is), in one table that the parser (which
names it accepts) and the evaluator (what a call computes) both read.

Adding a function to explain is a line here; what its derivative is called in the report lives
beside its op, as the op class's ``explain_*`` attributes (``chainrule/ops/base.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import chainrule.autograd.tensor_math as tm
import chainrule.functional as F


@dataclass(frozen=True)
class Function:
    """One function of the language: ``fewest``..``most`` arguments; ``call`` the public
    function applied to one Tensor argument (None: the evaluator handles the call, as for
    ``dot``, ``max(v)``/``max(a, b)`` and the losses, whose arguments it checks first)."""

    fewest: int
    most: int
    call: Callable | None = None


def _softmax(x):  # the language's softmax is over the last axis, as the texts' vectors are
    return tm.softmax(x, -1)


def _log_softmax(x):
    return tm.log_softmax(x, -1)


# The first functions; the parser's one-line refusal lists these (scripts match it).
FIRST: dict[str, Function] = {
    "exp": Function(1, 1, tm.exp),
    "log": Function(1, 1, tm.log),
    "sqrt": Function(1, 1, tm.sqrt),
    "tanh": Function(1, 1, tm.tanh),
    "sigmoid": Function(1, 1, tm.sigmoid),
    "relu": Function(1, 1, tm.relu),
    "sum": Function(1, 1, tm.sum),
    "max": Function(1, 2),  # max(v): the largest element; max(a, b): elementwise
    "dot": Function(2, 2),
}
# Added later; a refusal names these on a line of its own.
MORE: dict[str, Function] = {
    "sin": Function(1, 1, tm.sin),
    "cos": Function(1, 1, tm.cos),
    "abs": Function(1, 1, tm.abs),
    # Tensors: reductions, the softmax family and the losses, each reaching chainrule's own.
    "mean": Function(1, 1, tm.mean),
    "min": Function(1, 2),
    "softmax": Function(1, 1, _softmax),
    "log_softmax": Function(1, 1, _log_softmax),
    "mse": Function(2, 2),
    "cross_entropy": Function(2, 2),
    "softplus": Function(1, 1, F.softplus),
    "silu": Function(1, 1, F.silu),
    "gelu": Function(1, 1, F.gelu),
    "leaky_relu": Function(1, 1, F.leaky_relu),
}
FUNCTIONS: dict[str, Function] = {**FIRST, **MORE}
