"""``explain(expression, a=2, b=1)``: evaluate an expression on chainrule Tensors, run backward, and
show what happened: the forward values, the engine's backward ledger, the paths, a numerical check
and a picture.

The top of explain. What is computed lives below (``chainrule.explain.trace``, ``ledger``,
``paths``, ``forward_mode``, ``numerical``, ``nudge``); the renderers read it (``report`` for
text and JSON, ``page``, ``nudge_text``, ``chainrule.viz`` for pictures); the classes here add
the renderers' methods to what is computed, so that nothing below imports anything above it.
"""

from __future__ import annotations

from collections.abc import Mapping

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain import ledger as _ledger
from chainrule.explain.learn import Learning, learn
from chainrule.explain.nudge_text import nudge_lines, nudges_json
from chainrule.explain.page import page
from chainrule.explain.report import json_report, text_report
from chainrule.explain.trace import Trace, trace_expression, trace_of_ledger


class Explanation(Trace):
    """A ``Trace`` (an evaluated, differentiated expression: its inputs, nodes, names and the
    engine's ledger) with its renderings: ``report()`` (text), ``to_dict()`` (JSON),
    ``html()`` (the step-through page), ``draw()`` (the graph picture), the nudges as text and
    ``learn()``."""

    def report(
        self,
        paths: bool = False,
        numerical: bool = False,
        h: float = 1e-6,
        one_sided: bool = False,
        forward: str | None = None,
    ) -> str:
        """The ledger as text: forward pass, backward pass, gradients (and forward mode seeded at
        input ``forward``, paths, numerical check)."""
        with xp.errstate(all="ignore"):  # nan and inf are shown as such, not warned about
            return text_report(
                self, paths=paths, numerical=numerical, h=h, one_sided=one_sided, forward=forward
            )

    def to_dict(
        self, paths: bool = False, numerical: bool = False, forward: str | None = None
    ) -> dict:
        """Everything in the report as plain JSON-ready data."""
        with xp.errstate(all="ignore"):
            return json_report(self, paths=paths, numerical=numerical, forward=forward)

    def html(self, forward: str | None = None) -> str:
        """One self-contained HTML page stepping through the forward pass, forward mode seeded at
        input ``forward`` (when given) and the backward pass, one node at a time."""
        return page(self, forward=forward)

    def nudge_report(self, names: list[str], h: float = 1e-6) -> str:
        """The nudges of ``names`` as text (``J goes 33 → 33.003``)."""
        return "\n".join(nudge_lines(self, list(names), h))

    def nudges_json(self, names: list[str], h: float = 1e-6) -> dict:
        return nudges_json(self, list(names), h)

    def learn(self, name: str, lr: float = 0.1, steps: int = 1) -> Learning:
        """Gradient descent on input ``name``: ``steps`` updates name ← name − lr·∂out/∂name,
        each gradient from chainrule's backward pass (a ``Learning``: ``.report()``,
        ``.to_dict()``, ``.plot(path)``)."""
        return learn(self, name, lr=lr, steps=steps)

    def draw(self, **kwargs):
        """The graph as a picture (``chainrule.viz.draw`` of the output); see its arguments."""
        # Imported here, not above: chainrule.viz's own imports of explain's bottom modules run
        # this package's __init__, which imports this module.
        from chainrule.viz.draw import draw

        kwargs.setdefault("title", self.title)
        kwargs.setdefault("op_names", self.ops)
        kwargs.setdefault("lang", self.lang)
        with xp.errstate(all="ignore"):
            return draw(self.output, **kwargs)


def explain(
    expression: str,
    at: Mapping | str | None = None,
    *,
    seed: int = 0,
    order: str = "engine",
    lang: str = "en",
    **values,
) -> Explanation:
    """Evaluates ``expression`` at the given values, runs chainrule's backward pass and records it.

    Args:
        expression: arithmetic over names (see ``chainrule.explain.parser``), e.g. ``"(a+b)*(b+1)"``.
        at: ``{"a": 2, "b": 1}`` or the CLI form ``"a=2,b=1,w=[2,-3,-3]"``; or give keywords.
            Vectors and matrices are nested lists or arrays (``W=[[0.1,0.2],[0.3,0.4]]``);
            ``W:30x784`` (or ``{"W": (30, 784)}`` given as ``Filled``) is filled from ``seed``.
        seed: the seed of the standard normal samples that fill inputs given by their shape.
        order: ``"engine"`` (the backward pass in the engine's order) or ``"statements"`` (in the
            reverse order of the statements, running sums added up in that order).
        lang: ``"en"`` or ``"zh"``, the language of the report.
    Raises:
        ExplainError: the expression or the values are refused (the message names the column).

    Example:
        >>> ex = explain("(a+b)*(b+1)", a=2, b=1)
        >>> ex.gradients["b"]
        array(5.)
    """
    return trace_expression(
        expression, at, values, seed=seed, order=order, lang=lang, cls=Explanation
    )


def from_ledger(ledger: _ledger.Ledger) -> Explanation:
    """An ``Explanation`` of a ledger recorded from a user's program, so that it prints the same
    report. Nodes are labelled by their ``.name`` where set; unnamed leaves are ``x1``, ``x2``, ...
    and unnamed ops ``n1``, ``n2``, ... (the tensors themselves are not renamed)."""
    return trace_of_ledger(ledger, cls=Explanation)


class ReportingLedger(_ledger.Ledger):
    """A ``Ledger`` that prints itself as ``chainrule explain`` does (``str(ledger)``)."""

    def report(self, paths: bool = False) -> str:
        """The same report as ``chainrule explain``: forward pass, backward pass, gradients (and
        paths), with the tensors' ``.name``s as labels."""
        return from_ledger(self).report(paths=paths)

    def __str__(self) -> str:
        return self.report()


def record(root: Tensor, seed=None, fill_grad: bool = False) -> ReportingLedger:
    """``chainrule.explain.ledger.record`` (the engine's reverse pass from ``root``, recorded
    step by step, the graph kept), as a ledger with a ``report()``; see its arguments."""
    return _ledger.record(root, seed, fill_grad, cls=ReportingLedger)
