"""See backpropagation happen: parse an expression safely, run chainrule's backward pass on it and
record every step (``chainrule explain`` on the command line).

    >>> from chainrule.explain import explain
    >>> print(explain("(a+b)*(b+1)", a=2, b=1).report(paths=True))

``record(tensor)`` gives the same ledger for any tensor of a user's program.
"""

from chainrule.explain.bindings import Filled, parse_bindings
from chainrule.explain.core import Explanation, explain
from chainrule.explain.learn import Learning, LearningDiverged, Update
from chainrule.explain.ledger import Edge, GraphFreedError, Ledger, Step, check_graph, record
from chainrule.explain.parser import ExplainError, parse
from chainrule.explain.paths import Path, PathSummary, enumerate_paths

__all__ = [
    "Edge", "ExplainError", "Filled", "Explanation", "GraphFreedError", "Learning", "LearningDiverged", "Ledger", "Path", "PathSummary",
    "Step", "Update", "check_graph", "enumerate_paths", "explain", "parse", "parse_bindings", "record",
]  # fmt: skip
