"""The backward pass in the order of the statements, as the texts run it: CS231n's staged
computation goes back from its last stage (8) to its first (1), adding each contribution to a
variable's gradient (``dx += ...``) in that order.

The engine's order is one reverse topological order; the statements' reverse order is another
(a statement's nodes use only earlier statements' nodes, and within one statement the nodes are
made inputs first). The contributions are the engine's own numbers: only the order in which the
steps are listed and the running sums added up changes, so the totals agree with the engine's to
rounding.
"""

from __future__ import annotations

from dataclasses import replace

from chainrule.backend import xp
from chainrule.explain.ledger import Edge, Ledger


def statement_order(ex) -> Ledger:
    """The explanation's ledger with its steps in reverse creation order (the last statement
    first) and every running sum re-added in that order."""
    ledger = ex.ledger
    rank = {id(t): k for k, t in enumerate(ex.created)}
    steps = sorted(ledger.steps, key=lambda s: -rank.get(id(s.tensor), -1))
    totals: dict[int, xp.ndarray] = {}
    received: dict[int, list[xp.ndarray]] = {}
    new_steps = []
    for step in steps:
        edges = []
        for e in step.edges:
            if e.contribution is None:
                edges.append(e)
                continue
            key = id(e.source)
            prev = totals.get(key)
            total = e.contribution if prev is None else prev + e.contribution
            totals[key] = total
            received.setdefault(key, []).append(e.contribution)
            edges.append(Edge(e.slot, e.source, e.contribution, total, prev, len(received[key])))
        new_steps.append(replace(step, edges=edges))
    grads = dict(ledger.grads)
    grads.update(totals)
    received = {**ledger.received, **received}
    return Ledger(ledger.root, ledger.seed, ledger.order, new_steps, grads, received)
