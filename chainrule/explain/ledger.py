"""The ledger of a backward pass: what chainrule's engine did at each node, recorded as it did it.

``record(root)`` runs the engine's own reverse pass over the graph that produced ``root`` (keeping
the graph) and, while it runs, notes every call the engine makes to a node's ``vjp``: the upstream
gradient it passed in and the gradient it got back for each input. Nothing is re-derived here, so the
numbers in the ledger are the engine's numbers; at the end the sums are checked against the
gradients the engine itself returned.

Vocabulary, for one node y = op(x1, x2, ...):

* upstream: d(root)/dy, the gradient that arrived at y (the sum of what y's users sent);
* local: dy/dxi, the op's own derivative, obtained from the op's ``vjp`` with an upstream of ones
  (for an elementwise op the diagonal of its Jacobian, for a reduction its row);
* contribution: what the engine adds to xi's gradient, ``vjp(upstream)`` summed back to xi's shape
  (= upstream × local for the ops of ``chainrule explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainrule.autograd import engine
from chainrule.autograd.engine import GraphFreedError  # noqa: F401  (explain re-exports it)
from chainrule.autograd.tensor import Tensor
from chainrule.backend import ArrayMath, sum_to, xp


@dataclass
class Edge:
    """One gradient sent from a node back to one of its inputs."""

    slot: int  # the input's position among the op's inputs
    source: Tensor  # the input
    contribution: xp.ndarray | None  # None where the input takes no gradient (a constant)
    total: xp.ndarray | None = None  # the input's gradient after this contribution was added
    previous: xp.ndarray | None = None  # ... and before it (None for the first contribution)
    arrival: int = 0  # 1 for the first contribution the input received, 2 for the second, ...


@dataclass
class Step:
    """The engine's work at one node of the backward pass."""

    tensor: Tensor  # the node's output
    upstream: xp.ndarray  # d(root)/d(tensor), as the engine passed it to vjp
    edges: list[Edge] = field(default_factory=list)

    @property
    def op(self):
        return self.tensor._node


@dataclass
class Ledger:
    """A recorded backward pass. ``order`` lists the graph's tensors (those that require grad),
    each after its inputs, as the engine sorted them; ``steps`` are in the order the engine ran."""

    root: Tensor
    seed: xp.ndarray
    order: list[Tensor]
    steps: list[Step]
    grads: dict[int, xp.ndarray]  # id(tensor) -> d(root)/d(tensor), for every tensor in order
    received: dict[int, list[xp.ndarray]]  # id(tensor) -> the contributions it received, in order

    def grad(self, t: Tensor) -> xp.ndarray | None:
        """d(root)/d(t) as the engine computed it (None where no gradient reached ``t``)."""
        return self.grads.get(id(t))

    def step_of(self, t: Tensor) -> Step | None:
        for s in self.steps:
            if s.tensor is t:
                return s
        return None

    def local(self, step: Step, slot: int) -> xp.ndarray | None:
        """d(output)/d(input ``slot``) from the op's own ``vjp`` with an upstream of ones, in the
        broadcast shape (before it is summed back to the input's shape)."""
        g = _vjp(step.tensor, xp.ones_like(step.tensor._data))[slot]
        return None if g is None else xp.asarray(g)

    def jacobian(self, step: Step, slot: int) -> xp.ndarray:
        """The Jacobian d(output)/d(input ``slot``), shape (output size, input size), one row per
        output element, each row from the op's ``vjp`` with a one-hot upstream."""
        y = step.tensor._data
        x = step.op.inputs[slot]._data
        rows = xp.zeros((y.size, x.size), dtype=xp.result_type(y.dtype, x.dtype))
        for k in range(y.size):
            e = xp.zeros(y.size, dtype=y.dtype)
            e[k] = 1
            g = _vjp(step.tensor, e.reshape(y.shape))[slot]
            if g is not None:
                rows[k] = sum_to(xp.asarray(g), x.shape).ravel()
        return rows


def _vjp(t: Tensor, g):
    node = t._node
    return node.vjp(ArrayMath, g, *[i._data for i in node.inputs], t._data)


def check_graph(root: Tensor, where: str = "explain") -> None:
    """Raises ``GraphFreedError`` where any node behind ``root`` has had its inputs freed."""
    engine.toposort([root], constants=True, reader=where)


def record(
    root: Tensor, seed=None, fill_grad: bool = False, cls: type[Ledger] | None = None
) -> Ledger:
    """Runs chainrule's reverse pass from ``root`` and records every step of it.

    Args:
        root: the tensor to differentiate; one element, or give ``seed``.
        seed: d(loss)/d(root), of root's shape; ones when omitted.
        fill_grad: run ``root.backward(retain_graph=True)``, adding into the leaves' ``.grad`` as
            a user's backward would; otherwise ``cr.grad`` is used and no ``.grad`` is touched.
        cls: the class of the ledger returned (``Ledger`` or a subclass; the one of
            ``chainrule.explain.record`` adds a ``report()``).
    The graph is kept (``retain_graph=True``), so it can be read or drawn afterwards.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"record: expected a Tensor, got {type(root).__name__}")
    check_graph(root)
    if not root.requires_grad:
        raise RuntimeError(
            "record: this tensor does not require grad, so it has no backward pass; create its "
            "inputs with requires_grad=True"
        )
    seed_arr = xp.ones_like(root._data) if seed is None else xp.asarray(seed, dtype=root.dtype)
    if seed_arr.shape != root.shape:
        raise ValueError(f"record: the seed has shape {seed_arr.shape}, the root {root.shape}")
    order = engine.toposort([root])
    before = {id(t): None if t.grad is None else t.grad._data.copy() for t in order}
    notes = _Notes()
    with engine.observing(notes):
        if fill_grad:
            root.backward(seed_arr, retain_graph=True)
            engine_grads = {}
        else:
            found = engine.grad(root, order, [seed_arr], retain_graph=True, allow_unused=True)
            engine_grads = {id(t): g._data for t, g in zip(order, found) if g is not None}
    _check_against_engine(order, notes.totals, engine_grads, before if fill_grad else None)
    cls = Ledger if cls is None else cls
    return cls(root, seed_arr, order, notes.steps, notes.totals, notes.received)


class _Notes:
    """The engine's observer while a ledger is recorded: each step as the walk reports it."""

    def __init__(self):
        self.steps: list[Step] = []
        self.totals: dict[int, xp.ndarray] = {}
        self.received: dict[int, list[xp.ndarray]] = {}
        self._slots: list[int] = []  # the slots of the current step still to send a gradient

    def vjp(self, t: Tensor, upstream, in_grads) -> None:
        step = Step(t, xp.array(upstream, copy=True))
        self._slots = []
        for slot, (inp, ig) in enumerate(zip(t._node.inputs, in_grads)):
            step.edges.append(Edge(slot, inp, None))
            if engine.receives(inp, ig):  # the engine's rule: else it sends nothing
                self._slots.append(slot)
        self._slots.reverse()
        self.steps.append(step)

    def sent(self, t, to: Tensor, raw, grad, prev, total) -> None:
        self.totals[id(to)] = total
        arrivals = self.received.setdefault(id(to), [])
        arrivals.append(grad)
        if t is not None:
            slot = self._slots.pop()
            self.steps[-1].edges[slot] = Edge(slot, to, grad, total, prev, len(arrivals))

    def leaf(self, t: Tensor, g) -> None:
        pass

    def freed(self, t: Tensor) -> None:
        pass


def _check_against_engine(order, totals, engine_grads, before) -> None:
    """The recorded sums must be the engine's gradients; anything else is a bug in the ledger."""
    for t in order:
        mine = totals.get(id(t))
        if before is not None:
            if t._node is not None or not t.requires_grad or mine is None:
                continue
            prev = before[id(t)]
            theirs = t.grad._data if prev is None else t.grad._data - prev
        else:
            theirs = engine_grads.get(id(t))
            if theirs is None and mine is None:
                continue
        if (
            mine is None
            or theirs is None
            or not xp.allclose(mine, theirs, rtol=1e-6, atol=0, equal_nan=True)
        ):
            raise RuntimeError(
                "explain: internal error: the recorded ledger disagrees with the engine's "
                f"gradient for a tensor of shape {t.shape}; please report this"
            )
