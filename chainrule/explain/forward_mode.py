"""Forward mode on an explained expression: the tangent of every node with respect to one input,
node by node in evaluation order, as the texts derive ∂e/∂b forward (∂c/∂b = 1, ∂d/∂b = 1,
∂e/∂b = 2·1 + 3·1 = 5), and what forward and reverse mode cost for the expression.

Vocabulary, for one node y = op(x1, x2, ...) and the chosen input b:

* tangent: ∂y/∂b, the derivative of the node with respect to b (the seed: ∂b/∂b = 1);
* term: what input xi brings to y's tangent, local ∂y/∂xi times xi's tangent.

The tangents are chainrule's forward mode's (``cr.jvp``), observed: the graph's ops are applied
again, as they were recorded, inside ``cr.jvp`` with the seed as the chosen input's tangent and
zero as the other inputs', and each node's tangent is the one the library attached to it (each
op's ``jvp``, in ``chainrule.autograd.make``); each term is ``cr.jvp`` of the node's op alone
with only that input's tangent. Nothing is propagated here. The locals shown beside them come
from the op's ``vjp``, as in the backward ledger; the two rules are written separately in each
op, so a forward tangent equal to the backpropagated gradient is a check of one against the
other.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from chainrule.autograd.forward import jvp
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.make import apply
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.parser import ExplainError


@dataclass
class Term:
    """What one input of a node brings to the node's tangent: local × the input's tangent."""

    slot: int  # the input's position among the op's inputs
    source: Tensor  # the input
    tangent: xp.ndarray  # ∂source/∂b
    value: xp.ndarray  # the op's jvp with only this input's tangent: local × tangent


@dataclass
class TangentStep:
    """Forward mode at one node: its tangent and the terms it is the sum of."""

    tensor: Tensor
    tangent: xp.ndarray  # ∂tensor/∂b, the op's jvp of all its inputs' tangents
    terms: list[Term] = field(default_factory=list)  # empty: the node does not depend on b


@dataclass
class ForwardPass:
    """One forward-mode pass, seeded at one input (or one element of a vector input)."""

    wrt: str  # the label of the seeded input: ``b``, or ``w[1]``
    seeded: Tensor
    seed: xp.ndarray  # ∂seeded/∂b: ones at the seeded element, zeros elsewhere
    steps: list[TangentStep]
    tangents: dict[int, xp.ndarray]  # id(tensor) -> ∂tensor/∂b, for every tensor of the graph

    def tangent(self, t: Tensor) -> xp.ndarray:
        return self.tangents[id(t)]


_WRT = re.compile(r"^\s*([^\W\d]\w*)\s*(?:\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\])?\s*$")


def parse_wrt(wrt: str, inputs: dict[str, Tensor]) -> tuple[str, tuple[int, ...]]:
    """``"b"`` -> ("b", ()); ``"w[1]"`` -> ("w", (1,)). A vector input needs its element, since
    one forward pass differentiates with respect to one number."""
    m = _WRT.match(wrt)
    if m is None:
        raise ExplainError(
            f"--forward takes an input's name (b) or one element (w[0]), got {wrt!r}"
        )
    name, index, column = m.group(1), m.group(2), m.group(3)
    if name not in inputs:
        raise ExplainError(
            f"--forward {name}: not an input of the expression; the inputs are {', '.join(inputs)}"
        )
    x = inputs[name]
    if index is None:
        if x._data.size != 1:
            kind, one = "a vector", f"{name}[0]"
            if x._data.ndim == 2:
                kind, one = f"a {x._data.shape[0]}×{x._data.shape[1]} matrix", f"{name}[0,0]"
            raise ExplainError(
                f"--forward {name}: {name} is {kind} of {x._data.size} numbers and one forward "
                f"pass is seeded at one number: name one, --forward {one}"
            )
        return name, ()
    at = (int(index),) if column is None else (int(index), int(column))
    if x._data.ndim != len(at) or any(i >= n for i, n in zip(at, x._data.shape)):
        shape = x._data.shape
        if x._data.ndim == 2:
            size = f"a {shape[0]}×{shape[1]} matrix: name one element, {name}[0,0]"
        else:
            size = "a scalar" if x._data.ndim == 0 else f"a vector of {x._data.size} numbers"
        raise ExplainError(f"--forward {wrt.strip()}: {name} is {size}")
    return name, at


def forward_pass(forward: list[Tensor], inputs: dict[str, Tensor], wrt: str) -> ForwardPass:
    """The tangent of every node of ``forward`` (each after its inputs) seeded at input ``wrt``,
    as ``cr.jvp`` computes it, and the terms each node's tangent sums (for the inputs that
    depend on the seeded one)."""
    name, index = parse_wrt(wrt, inputs)
    x = inputs[name]
    seed = xp.zeros_like(x._data)
    seed[index] = 1
    leaves = list(inputs.values())
    tangents = observed_tangents(forward, leaves, [seed if t is x else None for t in leaves])
    depends = {id(x)}  # the tensors b reaches: only their terms can be nonzero
    steps = []
    for t in forward:
        node = t._node
        if node is None:
            continue
        tans = [tangents.get(id(i), xp.zeros_like(i._data)) for i in node.inputs]  # a constant's: 0
        step = TangentStep(t, tangents[id(t)])
        for slot, i in enumerate(node.inputs):
            if id(i) in depends:
                only = [tv if k == slot else xp.zeros_like(tv) for k, tv in enumerate(tans)]
                step.terms.append(Term(slot, i, tans[slot], _op_jvp(node, only)))
        if step.terms:
            depends.add(id(t))
        steps.append(step)
    label = name if not index else f"{name}[{','.join(map(str, index))}]"
    return ForwardPass(label, x, seed, steps, tangents)


def observed_tangents(
    forward: list[Tensor], leaves: list[Tensor], seeds: list[xp.ndarray | None]
) -> dict[int, xp.ndarray]:
    """id(tensor) -> its tangent, for every tensor of ``forward`` (the graph in evaluation order):
    the graph's ops applied again (copies, so the recorded nodes keep their state) to the leaves
    inside ``cr.jvp``, with ``seeds`` as the leaves' tangents (None: zero), each node's tangent
    read from the tensor the library's forward mode made for it."""
    made: dict[int, Tensor] = {}

    def replay(*xs: Tensor) -> Tensor:
        made.update((id(leaf), v) for leaf, v in zip(leaves, xs))
        for t in forward:
            if t._node is not None:
                ins = [made.get(id(i), i) for i in t._node.inputs]
                made[id(t)] = apply(copy.copy(t._node), *ins)
        return made[id(forward[-1])]

    directions = [xp.zeros_like(t._data) if s is None else s for t, s in zip(leaves, seeds)]
    with no_grad():  # nothing is recorded: the tangents ride on the values
        jvp(replay, tuple(leaves), tuple(directions))
    return {id(t): _tangent_of(made[id(t)]) for t in forward if id(t) in made}


def _tangent_of(t: Tensor) -> xp.ndarray:
    return t._tangent if t._tangent is not None else xp.zeros_like(t._data)


def _op_jvp(node, tangents: list[xp.ndarray]) -> xp.ndarray:
    """``cr.jvp`` of the node's op alone at its recorded inputs, along ``tangents``."""
    with no_grad():
        _, tan = jvp(lambda *xs: apply(copy.copy(node), *xs), tuple(node.inputs), tuple(tangents))
    return tan._data


@dataclass
class Cost:
    """Passes and local products of forward and reverse mode for one explained expression."""

    inputs: int  # numbers the output is differentiated with respect to
    outputs: int  # numbers differentiated (1: explain differentiates one number)
    forward_products: dict[str, int]  # input -> local products of one pass seeded there
    reverse_products: int  # local products of the one backward pass (one per edge)

    @property
    def forward_total(self) -> int:
        return sum(self.forward_products.values())


def cost(forward: list[Tensor], inputs: dict[str, Tensor], backward_edges: int) -> Cost:
    """Counts one local product per edge whose source the seeded input reaches (forward mode, per
    input number) against one per edge that carries a gradient (reverse mode, once)."""
    products = {}
    for name, x in inputs.items():
        depends, edges = {id(x)}, 0
        for t in forward:
            if t._node is None:
                continue
            reached = [i for i in t._node.inputs if id(i) in depends]
            if reached:
                depends.add(id(t))
                edges += len(reached)
        products[name] = edges * x._data.size  # one pass per number of a vector input
    n = sum(x._data.size for x in inputs.values())
    return Cost(n, 1, products, backward_edges)
