"""Every path from the output back to each input, and the product of local derivatives along it.

The chain rule in its "sum over paths" form: d(root)/d(x) is the sum, over every path from root
down to x, of the product of the local derivatives on the path's edges. Backpropagation computes
the same sum without listing the paths: it multiplies each edge's local derivative once, by the
upstream gradient that already holds the shared part of every path through that edge. Listing the
paths shows the equality; counting the multiplications shows why backpropagation is the way to do it.

For vectors, each local derivative is a Jacobian (one row per output element, from the op's own
``vjp``) and a path's product is the row vector seed · J1 · J2 · ... in the input's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.ledger import Ledger

MAX_PATHS = 10_000


@dataclass
class Path:
    """One path root -> ... -> input: the tensors on it and the local derivative of each edge."""

    tensors: list[Tensor]
    factors: list[xp.ndarray]  # Jacobians, shape (output size, input size) of each edge
    product: xp.ndarray  # seed · J1 · J2 ..., in the input's shape


@dataclass
class PathSummary:
    """All paths to each input, and the multiplication/addition counts of both methods."""

    paths: dict[int, list[Path]]  # id(input) -> its paths
    path_multiplications: int  # sum over paths of (edges - 1): multiplying each path's factors
    path_additions: int  # sum over inputs of (paths - 1): adding up the path products
    backprop_multiplications: int  # one per edge whose upstream is not the seed
    backprop_additions: int  # one per contribution after the first that a tensor receives

    def total(self, t: Tensor) -> xp.ndarray | None:
        """The sum of the path products to ``t``."""
        ps = self.paths.get(id(t))
        if not ps:
            return None
        out = ps[0].product
        for p in ps[1:]:
            out = out + p.product
        return out


def enumerate_paths(ledger: Ledger) -> PathSummary:
    """Lists every path from the ledger's root to each leaf that requires grad."""
    steps = {id(s.tensor): s for s in ledger.steps}
    jac_cache: dict[tuple[int, int], xp.ndarray] = {}

    def jac(step, slot):
        key = (id(step.tensor), slot)
        if key not in jac_cache:
            jac_cache[key] = ledger.jacobian(step, slot)
        return jac_cache[key]

    paths: dict[int, list[Path]] = {}
    count = 0
    seed = ledger.seed.ravel()
    # Iterative depth-first walk over edges (a value used twice by one op gives two paths).
    stack: list[tuple[list[Tensor], list[xp.ndarray]]] = [([ledger.root], [])]
    while stack:
        tensors, factors = stack.pop()
        t = tensors[-1]
        step = steps.get(id(t))
        if step is None:  # a leaf
            if factors and t.requires_grad:
                count += 1
                if count > MAX_PATHS:
                    raise ValueError(f"paths: more than {MAX_PATHS} paths; too many to list")
                v = seed
                for f in factors:
                    v = v @ f
                paths.setdefault(id(t), []).append(Path(tensors, factors, v.reshape(t.shape)))
            continue
        for edge in reversed(step.edges):
            if edge.contribution is None:
                continue
            stack.append((tensors + [edge.source], factors + [jac(step, edge.slot)]))

    path_mults = sum(len(p.factors) - 1 for ps in paths.values() for p in ps)
    path_adds = sum(len(ps) - 1 for ps in paths.values())
    bp_mults = sum(
        1
        for s in ledger.steps
        if s.tensor is not ledger.root
        for e in s.edges
        if e.contribution is not None
    )
    bp_adds = sum(len(r) - 1 for r in ledger.received.values())
    return PathSummary(paths, path_mults, path_adds, bp_mults, bp_adds)
