"""Nudging any node, as the texts do: move one node's value by h, compute everything after it
again, and watch the output move. J = 3(a + bc) at a = 5, b = 3, c = 2, written
``u = b*c; v = a + u; J = 3*v``, goes 33 → 33.003 when a, u or v moves up by 0.001 (each has
∂J/∂node = 3) and 33 → 33.006 when b does (∂J/∂b = 3c = 6). The slope (f(+h) − f(−h))/2h stands
beside backprop's ∂out/∂node from the ledger.

Inputs are nudged as in the numerical check; an intermediate node is nudged where the evaluation
makes it: the expression is evaluated again and h is added to that node's value as it is created,
so that the nodes after it see the nudge and the nodes before it do not. The texts rewrite the
intermediate as an input to do this; here nothing needs rewriting.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.autograd.check import central_differences
from chainrule.autograd.creation import tensor
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.evaluate import Evaluation, evaluate_into
from chainrule.explain.i18n import tr
from chainrule.explain.numerical import check_step
from chainrule.explain.parser import ExplainError

MAX_ROWS = 16  # elements listed per nudged vector or matrix


@dataclass
class Nudge:
    """One element of one node moved by ±h."""

    label: str  # ``u``, or ``w[1]`` for an element
    value: float  # the element's value
    up: float  # the output with the element at value + h
    down: float  # ... at value − h
    slope: float  # (up − down) / 2h
    backprop: float  # ∂out/∂element from the ledger
    size: int = 1  # elements of the node (rows beyond MAX_ROWS are not computed)


def nudge(ex, name: str, h: float = 1e-6) -> list[Nudge]:
    """Nudges every element (the first ``MAX_ROWS``) of node ``name`` by ±h."""
    if not (h > 0 and xp.isfinite(h)):
        raise ExplainError(f"--h must be a positive step, got {h}")
    t, index = _find(ex, name)
    grad = ex.gradients[name] if t._node is None else ex.ledger.grad(t)
    grad = xp.zeros_like(t._data) if grad is None else xp.asarray(grad)
    rows = []
    data = xp.asarray(t._data, dtype=xp.float64)
    check_step(h, {name: data})  # the step's rule is the numerical check's
    # The nudge is added to the node where it is made, so the point moved is a delta of zeros.
    delta = xp.zeros_like(data)
    with xp.errstate(all="ignore"):
        diffs = central_differences(lambda d: _output(ex, name, index, d), delta, h)
        for k, (i, up, down, slope) in enumerate(diffs):
            label = name if data.ndim == 0 else f"{name}[{', '.join(map(str, i))}]"
            rows.append(Nudge(label, float(data[i]), up, down, slope, float(grad[i]), data.size))
            if k + 1 == MAX_ROWS:
                break
    return rows


def _find(ex, name: str) -> tuple[Tensor, int | None]:
    """The node called ``name`` and its index among the evaluation's nodes (None: an input)."""
    if name in ex.inputs:
        return ex.inputs[name], None
    for k, t in enumerate(ex.created):
        if ex.names.get(id(t)) == name:
            return t, k
    inner = [ex.name(t) for t in ex.forward if ex.texts.get(id(t), "").startswith("inside ")]
    nodes = ", ".join(ex.name(t) for t in ex.forward if ex.name(t) not in inner)
    raise ExplainError(tr("nudge_unknown", ex.lang, name=name, nodes=nodes))


def _output(ex, name: str, index: int | None, delta: xp.ndarray) -> float:
    """The output with node ``name`` moved by ``delta``; every input requires grad, as in
    ``explain``, so that the evaluation makes the same nodes in the same order."""
    env = {}
    for k, t in {**ex.inputs, **ex.fixed}.items():
        v = t._data + delta if (index is None and k == name) else t._data
        env[k] = tensor(xp.asarray(v, dtype=xp.float64), requires_grad=True)
    out = Evaluation(None)
    if index is not None:
        out.nudge = {index: delta}
    with xp.errstate(all="ignore"):
        evaluate_into(ex.expression, env, out)
    r = out.result
    return float(xp.asarray(r._data if isinstance(r, Tensor) else r).reshape(()))
