"""See backpropagation happen: parse an expression safely, run chainrule's backward pass on it and
record every step (``chainrule explain`` on the command line).

    >>> from chainrule.explain import explain
    >>> print(explain("(a+b)*(b+1)", a=2, b=1).report(paths=True))

``record(tensor)`` gives the same ledger for any tensor of a user's program, and
``cr.explain(loss, modules=model)`` explains one step of a model (``chainrule.explain.model``):
the package itself can be called, with an expression or with a tensor.
"""

import sys
import types

from chainrule.explain.bindings import Filled, parse_bindings
from chainrule.explain.core import Explanation, explain, record
from chainrule.explain.gates import gates
from chainrule.explain.learn import Learning, LearningDiverged, Update
from chainrule.explain.ledger import Edge, GraphFreedError, Ledger, Step, check_graph
from chainrule.explain.parser import ExplainError, parse
from chainrule.explain.paths import Path, PathSummary, enumerate_paths

__all__ = [
    "Edge", "ExplainError", "Filled", "Explanation", "GraphFreedError", "Learning", "LearningDiverged", "Ledger", "Path", "PathSummary",
    "Step", "Update", "check_graph", "enumerate_paths", "explain", "gates", "parse", "parse_bindings", "record",
]  # fmt: skip


def explain_any(what, *args, **kwargs):
    """``cr.explain(...)``: ``explain(expression, at, **values)`` for a string,
    ``explain_tensor(tensor, modules=..., params=...)`` for a tensor of a program."""
    from chainrule.autograd.tensor import Tensor
    from chainrule.explain.model import explain_tensor

    if isinstance(what, Tensor):
        return explain_tensor(what, *args, **kwargs)
    return explain(what, *args, **kwargs)


class _CallablePackage(types.ModuleType):
    """Lets ``cr.explain`` be both this package and a function, as ``cr.explain(loss)`` reads."""

    def __call__(self, what, *args, **kwargs):
        return explain_any(what, *args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
