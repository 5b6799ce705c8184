"""What an explanation shows, computed: an expression evaluated on chainrule Tensors, the engine's
backward ledger, the nodes' names and texts, and what can be computed from them (paths, forward
mode, the numerical check, nudges). This is the bottom of explain: the renderers (text, JSON, the
page, pictures) read a ``Trace``; ``chainrule.explain.core.Explanation`` is a ``Trace`` with their
methods (``report()``, ``html()``, ``draw()``), and ``explain()`` builds one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chainrule.autograd.check import central_differences
from chainrule.autograd.creation import tensor
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.bindings import Filled, parse_bindings
from chainrule.explain.evaluate import Evaluation, evaluate
from chainrule.explain.forward_mode import Cost, ForwardPass, cost, forward_pass
from chainrule.explain.i18n import tr
from chainrule.explain.ledger import Ledger, record
from chainrule.explain.local import abbrev, fmt
from chainrule.explain.nudge import Nudge, nudge
from chainrule.explain.numerical import NumericalCheck, evaluator, numerical_check, special_points
from chainrule.explain.order import statement_order
from chainrule.explain.parser import ExplainError, Expression, parse
from chainrule.explain.paths import PathSummary, enumerate_paths


@dataclass
class Trace:
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
    gradients: dict[str, xp.ndarray]

    @property
    def title(self) -> str:
        """The first line of the report: the expression (or what was recorded) and the values."""
        what = self.expression.text.strip() if self.expression is not None else self.recorded
        return f"{what}   {tr('at', self.lang)} {self.bindings_text()}"

    recorded: str = ""  # for a ledger of a user's program: what it records
    ops: dict[int, str] = field(default_factory=dict)  # id(tensor) -> its op as the user wrote it
    fixed: dict[str, Tensor] = field(default_factory=dict)  # inputs held fixed (class indices)
    statement_of: dict[int, int] = field(default_factory=dict)  # id(node) -> statement index
    created: list[Tensor] = field(default_factory=list)  # the nodes in evaluation order
    seed: int = 0
    order: str = "engine"  # the order of the backward pass's steps in the report
    lang: str = "en"

    def op(self, t: Tensor) -> str:
        """The op of a graph tensor under the name the user wrote (``dot``, ``max``); ``input``
        for a leaf."""
        if t._node is None:
            return "input"
        return self.ops.get(id(t), t._node.name)

    def name(self, t: Tensor) -> str:
        """The id of a graph tensor (``a``, ``n3``), or the value of a constant."""
        return self.names.get(id(t)) or fmt(t._data)

    def paths(self) -> PathSummary:
        """Every path from the output to each input, with products and multiplication counts."""
        return enumerate_paths(self.ledger)

    def forward_mode(self, wrt: str) -> ForwardPass:
        """Forward mode seeded at input ``wrt`` (``"b"``, or ``"w[0]"`` for one element of a
        vector): the tangent of every node and the terms each sums (a ``ForwardPass``)."""
        with xp.errstate(all="ignore"):
            return forward_pass(self.forward, self.inputs, wrt)

    def cost(self) -> Cost:
        """Passes and local products of forward mode (one pass per input number) against reverse
        mode (one backward pass) for this expression."""
        edges = sum(e.contribution is not None for s in self.ledger.steps for e in s.edges)
        return cost(self.forward, self.inputs, edges)

    def numerical(self, eps: float = 1e-6) -> dict[str, xp.ndarray]:
        """Central-difference estimates (f(x+h) - f(x-h)) / 2h of d(output)/d(input), per element."""
        base = {k: v._data for k, v in self.inputs.items()}
        f = evaluator(self.expression, self.inputs, self.fixed)
        out = {}
        for name, x in base.items():
            g = xp.zeros_like(x)

            def f_of(moved: xp.ndarray, name: str = name) -> float:
                return f({**base, name: moved})

            with xp.errstate(all="ignore"):
                for i, _, _, slope in central_differences(f_of, x.copy(), eps):
                    g[i] = slope
            out[name] = g
        return out

    def numerical_check(self, h: float = 1e-6, one_sided: bool = False) -> NumericalCheck:
        """The difference quotients with f(x + h) and f(x − h), the count of evaluations of f, and
        the kinks, ties and poles within h of the point (a ``NumericalCheck``)."""
        if self.expression is None:
            raise ValueError(
                "numerical check: a recorded ledger has no expression to evaluate again; use "
                "chainrule.gradcheck on the function instead"
            )
        base = {k: v._data for k, v in self.inputs.items()}
        with xp.errstate(all="ignore"):
            notes = special_points(self.ledger.steps, self.name, h)
        f = evaluator(self.expression, self.inputs, self.fixed)
        return numerical_check(f, base, self.gradients, notes, h, one_sided)

    def nudge(self, name: str, h: float = 1e-6) -> list[Nudge]:
        """Moves node ``name`` (an input or an intermediate) by ±h, computes what follows again,
        and returns each element's nudged outputs and slope beside backprop's (``Nudge`` rows)."""
        return nudge(self, name, h)

    def bindings_text(self) -> str:
        both = {**self.inputs, **self.fixed}
        return ", ".join(f"{k} = {abbrev(v._data)}" for k, v in both.items())

    def set_order(self, order: str) -> None:
        """``"engine"`` or ``"statements"``: the order in which the report lists the backward
        steps and adds up the running sums (see ``chainrule.explain.order``)."""
        if order not in ("engine", "statements"):
            raise ExplainError(f"--order: expected engine or statements, got {order!r}")
        self.order = order
        if order == "statements":
            self.ledger = statement_order(self)


def trace_expression(
    expression: str,
    at: Mapping | str | None,
    values: Mapping,
    *,
    seed: int = 0,
    order: str = "engine",
    lang: str = "en",
    cls: type[Trace] = Trace,
) -> Trace:
    """Evaluates ``expression`` at the given values, runs chainrule's backward pass, records it,
    and returns a ``cls`` (``Trace`` or a subclass) of it. ``at`` and ``values`` together give
    the inputs; the arguments are those of ``chainrule.explain.explain``, where they are described.

    Raises:
        ExplainError: the expression or the values are refused (the message names the column).
    """
    expr = parse(expression)
    bindings = _bindings(at, values, seed)
    _check_bindings(expr, bindings)
    # Inputs in the order the expression first uses them, float64 for exact teaching numbers.
    inputs = {n: tensor(bindings[n], requires_grad=True) for n in expr.names}
    for n, t in inputs.items():
        t.name = n
    ev: Evaluation = evaluate(expr, inputs)
    out = ev.result
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise ExplainError("the expression does not depend on any input: nothing to differentiate")
    if out._data.size != 1:
        err = ExplainError(
            f"the expression's value has shape {out.shape}; explain differentiates one number: "
            "wrap it in sum(...) or dot(...)",
            expr.text,
            0,
            len(expr.text),
        )
        err.kind = "not_scalar"  # --learn restates it in one line
        raise err
    with xp.errstate(all="ignore"):
        ledger = record(out, fill_grad=True)  # out.backward(retain_graph=True), recorded
    ex = _explanation(expr, inputs, ev, ledger, cls)
    ex.seed = seed
    ex.set_order(order)
    ex.lang = lang
    return ex


def _check_bindings(expr: Expression, bindings: Mapping) -> None:
    """Every value given is used, and every input has one."""
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


def _explanation(
    expr: Expression, inputs: dict, ev: Evaluation, ledger: Ledger, cls: type[Trace]
) -> Trace:
    """Names the nodes and gathers what the report needs."""
    # An input no gradient reached (the class index k of cross_entropy(z, k)) is held fixed.
    fixed = {n: t for n, t in inputs.items() if t.grad is None}
    inputs = {n: t for n, t in inputs.items() if n not in fixed}
    names: dict[int, str] = {id(t): n for n, t in {**inputs, **fixed}.items()}
    created = _with_inner_nodes(ev, ledger)
    for t, n in zip(created, _node_names(created, ev.assigned, set(names.values()), expr.assigned)):
        names[id(t)] = n
        t.name = n
    forward = list(inputs.values()) + created
    gradients = {n: t.grad._data for n, t in inputs.items()}
    ex = cls(expr, inputs, ledger.root, forward, names, ev.texts, ledger, gradients)
    ex.ops = {k: v for k, v in ev.ops.items() if k in names}
    ex.fixed = fixed
    ex.statement_of = {k: v for k, v in ev.statements.items() if k in names}
    ex.created = ev.created
    return ex


def trace_of_ledger(ledger: Ledger, cls: type[Trace] = Trace) -> Trace:
    """A ``cls`` (``Trace`` or a subclass) of a ledger recorded from a user's program, so that it prints the same
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
        n: (ledger.grad(t) if ledger.grad(t) is not None else xp.zeros_like(t._data))
        for n, t in inputs.items()
    }
    root = names[id(ledger.root)]
    ex = cls(None, inputs, ledger.root, leaves + ops_, names, {}, ledger, gradients)
    ex.recorded = f"record({root})"
    return ex


def _with_inner_nodes(ev: Evaluation, ledger: Ledger) -> list[Tensor]:
    """The nodes of the ledger in evaluation order: those the expression's operators and calls
    made, each preceded by the nodes a composed function made inside it (``mean`` is a sum and a
    product, ``mse`` a difference, a square and a mean), which are labelled "inside ..."."""
    rank = {id(t): k for k, t in enumerate(ledger.order)}
    placed: set[int] = set()
    out: list[Tensor] = []
    for t in ev.created:
        if id(t) not in rank or id(t) in placed:
            continue
        inner, stack = [], [t]
        while stack:
            u = stack.pop()
            for i in u._node.inputs:
                if i._node is not None and id(i) in rank and id(i) not in placed:
                    if id(i) not in ev.texts:
                        placed.add(id(i))
                        inner.append(i)
                        ev.texts[id(i)] = f"inside {ev.texts[id(t)]}"
                        ev.statements[id(i)] = ev.statements.get(id(t), 0)
                        stack.append(i)
        out += sorted(inner, key=lambda u: rank[id(u)])
        placed.add(id(t))
        out.append(t)
    return out


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


def _bindings(at, values, seed: int = 0) -> dict[str, xp.ndarray]:
    out: dict = {}
    if isinstance(at, str):
        out.update(parse_bindings(at))
    elif at is not None:
        values = {**dict(at), **values}
    for k, v in values.items():
        if isinstance(v, Filled):
            out[k] = v
            continue
        arr = xp.asarray(v._data if isinstance(v, Tensor) else v, dtype=xp.float64)
        if arr.ndim > 2:
            raise ExplainError(
                f"{k}: explain takes scalars, vectors and matrices, got shape {arr.shape}"
            )
        out[k] = arr
    # Inputs given by a shape: standard normal samples, one generator for all, in the order given.
    rng = xp.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) if isinstance(v, Filled) else v for k, v in out.items()}
