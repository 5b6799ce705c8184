"""``explain(expression, a=2, b=1)``: evaluate an expression on chainrule Tensors, run backward, and
keep everything needed to show what happened: the forward values, the engine's backward ledger, the
paths, a numerical check and a picture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from chainrule.autograd.creation import tensor
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.tensor import Tensor
from chainrule.explain.evaluate import Evaluation, evaluate
from chainrule.explain.forward_mode import Cost, ForwardPass, cost, forward_pass
from chainrule.explain.ledger import Ledger, record
from chainrule.explain.parser import ExplainError, Expression, parse, parse_bindings
from chainrule.explain.paths import PathSummary, enumerate_paths


@dataclass
class Explanation:
    """An evaluated, differentiated expression.

    ``inputs`` are the named leaves (float64, requires_grad=True); ``output`` the result, whose
    graph is kept; ``forward`` every tensor of the graph in evaluation order (inputs first, each op
    after its inputs); ``names`` the id shown for each (``a``, ``n3``); ``ledger`` the engine's
    recorded backward pass; ``gradients`` each input's ``.grad`` as backward left it.
    """

    expression: Expression | None  # None for a ledger recorded from a user's program
    inputs: dict[str, Tensor]
    output: Tensor
    forward: list[Tensor]
    names: dict[int, str]
    texts: dict[int, str]
    ledger: Ledger
    gradients: dict[str, np.ndarray]

    @property
    def title(self) -> str:
        """The first line of the report: the expression (or what was recorded) and the values."""
        what = self.expression.text.strip() if self.expression is not None else self.recorded
        return f"{what}   at {self.bindings_text()}"

    recorded: str = ""  # for a ledger of a user's program: what it records
    ops: dict[int, str] = field(default_factory=dict)  # id(tensor) -> its op as the user wrote it

    def op(self, t: Tensor) -> str:
        """The op of a graph tensor under the name the user wrote (``dot``, ``max``); ``input``
        for a leaf."""
        if t._node is None:
            return "input"
        return self.ops.get(id(t), t._node.name)

    def name(self, t: Tensor) -> str:
        """The id of a graph tensor (``a``, ``n3``), or the value of a constant."""
        from chainrule.explain.report import fmt

        return self.names.get(id(t)) or fmt(t._data)

    def paths(self) -> PathSummary:
        """Every path from the output to each input, with products and multiplication counts."""
        return enumerate_paths(self.ledger)

    def forward_mode(self, wrt: str) -> ForwardPass:
        """Forward mode seeded at input ``wrt`` (``"b"``, or ``"w[0]"`` for one element of a
        vector): the tangent of every node and the terms each sums (a ``ForwardPass``)."""
        with np.errstate(all="ignore"):
            return forward_pass(self.forward, self.inputs, wrt)

    def cost(self) -> Cost:
        """Passes and local products of forward mode (one pass per input number) against reverse
        mode (one backward pass) for this expression."""
        edges = sum(e.contribution is not None for s in self.ledger.steps for e in s.edges)
        return cost(self.forward, self.inputs, edges)

    def numerical(self, eps: float = 1e-6) -> dict[str, np.ndarray]:
        """Central-difference estimates (f(x+h) - f(x-h)) / 2h of d(output)/d(input), per element."""
        base = {k: v._data for k, v in self.inputs.items()}

        def f(values: Mapping[str, np.ndarray]) -> float:
            env = {k: tensor(v) for k, v in values.items()}
            with no_grad():
                r = evaluate(self.expression, env).result
            return float(r._data if isinstance(r, Tensor) else r)

        out = {}
        for name, x in base.items():
            g = np.zeros_like(x)
            for i in np.ndindex(x.shape):
                hi, lo = x.copy(), x.copy()
                hi[i] += eps
                lo[i] -= eps
                with np.errstate(all="ignore"):
                    g[i] = (f({**base, name: hi}) - f({**base, name: lo})) / (2 * eps)
            out[name] = g
        return out

    def numerical_check(self, h: float = 1e-6, one_sided: bool = False):
        """The difference quotients with f(x + h) and f(x − h), the count of evaluations of f, and
        the kinks, ties and poles within h of the point (a ``NumericalCheck``)."""
        from chainrule.explain.numerical import evaluator, numerical_check, special_points

        if self.expression is None:
            raise ValueError(
                "numerical check: a recorded ledger has no expression to evaluate again; use "
                "chainrule.gradcheck on the function instead"
            )
        base = {k: v._data for k, v in self.inputs.items()}
        with np.errstate(all="ignore"):
            notes = special_points(self.ledger.steps, self.name, h)
        f = evaluator(self.expression, self.inputs)
        return numerical_check(f, base, self.gradients, notes, h, one_sided)

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
        from chainrule.explain.report import text_report

        with np.errstate(all="ignore"):  # nan and inf are shown as such, not warned about
            return text_report(
                self, paths=paths, numerical=numerical, h=h, one_sided=one_sided, forward=forward
            )

    def to_dict(
        self, paths: bool = False, numerical: bool = False, forward: str | None = None
    ) -> dict:
        """Everything in the report as plain JSON-ready data."""
        from chainrule.explain.report import json_report

        with np.errstate(all="ignore"):
            return json_report(self, paths=paths, numerical=numerical, forward=forward)

    def html(self, forward: str | None = None) -> str:
        """One self-contained HTML page stepping through the forward pass, forward mode seeded at
        input ``forward`` (when given) and the backward pass, one node at a time."""
        from chainrule.explain.page import page

        return page(self, forward=forward)

    def draw(self, **kwargs):
        """The graph as a picture (``chainrule.viz.draw`` of the output); see its arguments."""
        from chainrule.viz import draw

        kwargs.setdefault("title", self.title)
        kwargs.setdefault("op_names", self.ops)
        with np.errstate(all="ignore"):
            return draw(self.output, **kwargs)

    def bindings_text(self) -> str:
        from chainrule.explain.report import fmt

        return ", ".join(f"{k} = {fmt(v._data)}" for k, v in self.inputs.items())


def explain(expression: str, at: Mapping | str | None = None, **values) -> Explanation:
    """Evaluates ``expression`` at the given values, runs chainrule's backward pass and records it.

    Args:
        expression: arithmetic over names (see ``chainrule.explain.parser``), e.g. ``"(a+b)*(b+1)"``.
        at: ``{"a": 2, "b": 1}`` or the CLI form ``"a=2,b=1,w=[2,-3,-3]"``; or give keywords.
    Raises:
        ExplainError: the expression or the values are refused (the message names the column).

    Example:
        >>> ex = explain("(a+b)*(b+1)", a=2, b=1)
        >>> ex.gradients["b"]
        array(5.)
    """
    expr = parse(expression)
    bindings = _bindings(at, values)
    for name in bindings:
        if name in expr.assigned and name not in expr.positions:
            raise ExplainError(
                f"{name} is given a value but a statement computes it: drop --at {name}=..."
            )
        if name not in expr.positions:
            raise ExplainError(f"{name} is given a value but the expression does not use it")
    for name in expr.names:
        if name not in bindings:
            start, end = expr.positions[name]
            raise ExplainError(
                f"{name} has no value: give it with --at {name}=...", expr.text, start, end
            )
    # Inputs in the order the expression first uses them, float64 for exact teaching numbers.
    inputs = {n: tensor(bindings[n], requires_grad=True) for n in expr.names}
    for n, t in inputs.items():
        t.name = n
    ev: Evaluation = evaluate(expr, inputs)
    out = ev.result
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ExplainError("the expression does not depend on any input: nothing to differentiate")
    if out._data.size != 1:
        raise ExplainError(
            f"the expression's value has shape {out.shape}; explain differentiates one number: "
            "wrap it in sum(...) or dot(...)",
            expr.text,
            0,
            len(expr.text),
        )
    with np.errstate(all="ignore"):
        ledger = record(out, fill_grad=True)  # out.backward(retain_graph=True), recorded

    names: dict[int, str] = {id(t): n for n, t in inputs.items()}
    created = [t for t in ev.created if id(t) in {id(o) for o in ledger.order}]
    for t, n in zip(created, _node_names(created, ev.assigned, set(inputs), expr.assigned)):
        names[id(t)] = n
        t.name = n
    forward = list(inputs.values()) + created
    gradients = {n: t.grad._data for n, t in inputs.items()}
    ex = Explanation(expr, inputs, out, forward, names, ev.texts, ledger, gradients)
    ex.ops = {k: v for k, v in ev.ops.items() if k in names}
    return ex


def from_ledger(ledger: Ledger) -> Explanation:
    """An ``Explanation`` of a ledger recorded from a user's program, so that it prints the same
    report. Nodes are labelled by their ``.name`` where set; unnamed leaves are ``x1``, ``x2``, ...
    and unnamed ops ``n1``, ``n2``, ... (the tensors themselves are not renamed)."""
    leaves = [t for t in ledger.order if t._node is None]
    ops_ = [t for t in ledger.order if t._node is not None]
    written = {t.name for t in ledger.order if t.name}
    names: dict[int, str] = {}
    inputs: dict[str, Tensor] = {}
    for prefix, group in (("x", leaves), ("n", ops_)):
        k = 0
        for t in group:
            name = t.name
            if not name or name in inputs or name in names.values():
                k += 1
                while f"{prefix}{k}" in written or f"{prefix}{k}" in names.values():
                    k += 1
                name = f"{prefix}{k}"
            names[id(t)] = name
            if prefix == "x":
                inputs[name] = t
    gradients = {
        n: (ledger.grad(t) if ledger.grad(t) is not None else np.zeros_like(t._data))
        for n, t in inputs.items()
    }
    root = names[id(ledger.root)]
    ex = Explanation(None, inputs, ledger.root, leaves + ops_, names, {}, ledger, gradients)
    ex.recorded = f"record({root})"
    return ex


def _node_names(
    created: list[Tensor], assigned: dict[int, str], inputs: set[str], written: set[str]
) -> list[str]:
    """Display names of the created nodes, in order. A statement's node takes the statement's name;
    a name already taken (``u = u*u; u = u*u``, or an input ``u``) becomes ``u_2``, ``u_3``, ...
    The other nodes are ``n1``, ``n2``, ..., skipping the names the user wrote (``written``)."""
    used = set(inputs)
    out = []
    k = 0
    for t in created:
        want = assigned.get(id(t))
        if want is None:
            k += 1
            while f"n{k}" in written or f"n{k}" in used:
                k += 1
            name = f"n{k}"
        else:
            name, i = want, 1
            while name in used:
                i += 1
                name = f"{want}_{i}"
        used.add(name)
        out.append(name)
    return out


def _bindings(at, values) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if isinstance(at, str):
        out.update(parse_bindings(at))
    elif at is not None:
        values = {**dict(at), **values}
    for k, v in values.items():
        arr = np.asarray(v._data if isinstance(v, Tensor) else v, dtype=np.float64)
        if arr.ndim > 1:
            raise ExplainError(f"{k}: explain takes scalars and vectors, got shape {arr.shape}")
        out[k] = arr
    return out
