"""The functions of the explain language: each name, how many arguments it takes, and the public
chainrule function it calls (the one ``cr.X`` or ``F.X`` is), in one table that the parser (which
names it accepts) and the evaluator (what a call computes) both read.

An op of one argument is a function of the language when its class carries derivative text
(``explain``, ``chainrule/ops/base.py``) and ``cr.X`` applies it under its name (``exp``,
``sin``): the table takes those from the op classes, so adding such an op to explain is its
``explain`` line alone (it is listed after the others). Listed here by hand: the order of the
first names (the parser's refusal lists them), and the functions no single op class is:
reductions and the softmax family over a fixed axis, ``max``/``min``/``dot``, whose calls the
evaluator checks, the losses, which compose several ops, and the activations whose op classes
carry no text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import chainrule.autograd.tensor_math as tm
import chainrule.functional as F
from chainrule.ops.base import Op


@dataclass(frozen=True)
class Function:
    """One function of the language: ``fewest``..``most`` arguments; ``call`` the public
    function applied to one Tensor argument (None: the evaluator handles the call, as for
    ``dot``, ``max(v)``/``max(a, b)`` and the losses, whose arguments it checks first)."""

    fewest: int
    most: int
    call: Callable | None = None


def _explained_ops() -> dict[str, Function]:
    """name -> Function(1, 1, ``cr.X``) for every op class (in the order the classes are
    defined) that carries ``explain`` text and is applied by the public function of its name
    (``erf`` has text, for gelu's inner node, but no ``cr.erf``: no function of the language)."""
    out: dict[str, Function] = {}
    stack = list(reversed(Op.__subclasses__()))
    while stack:
        cls = stack.pop()
        stack += reversed(cls.__subclasses__())
        call = getattr(tm, cls.name, None) if cls.explain is not None else None
        if callable(call) and cls.name not in out:
            out[cls.name] = Function(1, 1, call)
    return out


_OPS = _explained_ops()


def _softmax(x):  # the language's softmax is over the last axis, as the texts' vectors are
    return tm.softmax(x, -1)


def _log_softmax(x):
    return tm.log_softmax(x, -1)


# The first functions; the parser's one-line refusal lists these (scripts match it).
FIRST: dict[str, Function] = {
    **{n: _OPS[n] for n in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu")},
    "sum": Function(1, 1, tm.sum),
    "max": Function(1, 2),  # max(v): the largest element; max(a, b): elementwise
    "dot": Function(2, 2),
}
# Added later; a refusal names these on a line of its own.
MORE: dict[str, Function] = {
    **{n: _OPS[n] for n in ("sin", "cos", "abs")},
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
# An op given its text later joins the language here, after the others.
MORE.update((n, f) for n, f in _OPS.items() if n not in FIRST and n not in MORE)
FUNCTIONS: dict[str, Function] = {**FIRST, **MORE}
