"""Einstein summation. The gradient for one operand is itself an einsum: the upstream gradient
contracted with the other operands onto that operand's subscripts (letters only it has are
broadcast back with ones, and a letter repeated within it puts the result on that diagonal)."""

from __future__ import annotations

import string

from chainrule.backend import bfloat16, xp
from chainrule.ops.base import Op


def parse(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The operands' subscripts and the output's, with ``...`` replaced by letters of their own
    and an implicit output made explicit (the letters used once, in alphabetical order)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(
            f"einsum(): the equation {equation!r} names {len(terms)} operands, got {len(ndims)}"
        )
    spare = [c for c in string.ascii_letters if c not in eq]
    width = max((n - len(t.replace("...", "")) for t, n in zip(terms, ndims) if "..." in t),
                default=0)  # fmt: skip
    ell = "".join(spare[:width])
    subs = []
    for t, n in zip(terms, ndims):
        if "..." in t:
            k = n - len(t.replace("...", ""))
            t = t.replace("...", ell[width - k :] if k else "")
        if len(t) != n:
            raise ValueError(
                f"einsum(): operand subscripts {t!r} do not match an operand of {n} dimensions"
            )
        subs.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: "".join(subs).count(c) for c in "".join(subs)}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return subs, out


class Einsum(Op):
    name = "einsum"

    def __init__(self, subs: list[str], out: str):
        self.subs, self.out = subs, out
        self.spec = ",".join(subs) + "->" + out

    def forward(self, *xs):
        if xs and xs[0].dtype == bfloat16:  # NumPy's einsum has no bfloat16 loop: accumulate
            y = xp.einsum(self.spec, *[x.astype(xp.float32) for x in xs], optimize=len(xs) > 2)
            return y.astype(bfloat16)  # in float32 and round once, as PyTorch's bmm does
        return xp.einsum(self.spec, *xs, optimize=len(xs) > 2)

    def _sizes(self, xs) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for s, x in zip(self.subs, xs):
            for c, n in zip(s, x.shape):
                if sizes.setdefault(c, n) != n and n != 1:
                    if sizes[c] == 1:
                        sizes[c] = n
        return sizes

    def vjp(self, m, g, *args):
        xs = args[:-1]
        sizes = self._sizes(xs)
        grads = []
        for k, (s, x) in enumerate(zip(self.subs, xs)):
            unique = "".join(dict.fromkeys(s))
            others = [(self.subs[j], xs[j]) for j in range(len(xs)) if j != k]
            have = set(self.out).union(*[set(sj) for sj, _ in others])
            lonely = "".join(c for c in unique if c not in have)
            terms = [self.out] + [sj for sj, _ in others]
            operands = [g] + [xj for _, xj in others]
            if lonely:  # summed only from this operand: its gradient is constant along them
                terms.append(lonely)
                operands.append(m.zeros(tuple(sizes[c] for c in lonely), like=g) + 1)
            gk = m.apply(Einsum(terms, unique), *operands)
            if unique != s:  # a repeated letter: the gradient lives on that diagonal
                gk = m.index_add(gk, _diagonal_index(s, unique, sizes), x.shape)
            if tuple(gk.shape) != tuple(x.shape):
                gk = m.sum_to(gk, x.shape)
            grads.append(gk)
        return tuple(grads)

    def jvp(self, *args):
        n = len(self.subs)
        ts, xs = args[:n], args[n : 2 * n]
        out = None
        for k, t in enumerate(ts):
            if t is None:
                continue
            term = self.forward(*[t if j == k else x for j, x in enumerate(xs)])
            out = term if out is None else out + term
        return out


def _diagonal_index(s: str, unique: str, sizes: dict[str, int]) -> tuple:
    """For subscripts ``s`` with repeats, the index that puts an array over ``unique`` onto
    the matching diagonal of an array over ``s``."""
    index = []
    for c in s:
        shape = [1] * len(unique)
        shape[unique.index(c)] = sizes[c]
        index.append(xp.arange(sizes[c]).reshape(shape))
    return tuple(index)
