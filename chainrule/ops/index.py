"""Indexing: ``x[index]`` with basic (ints, slices, None, ...) and integer-array indices."""

from __future__ import annotations

from chainrule.backend import ArrayMath
from chainrule.ops.base import Op


class GetItem(Op):
    """x[index]; the gradient is scattered back, adding where an integer index repeats."""

    name = "getitem"
    rebind = ("index",)  # per-call data: cr.compile sets it anew at every replay

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        return x[self.index]

    def vjp(self, m, g, x, y):
        return (m.index_add(g, self.index, x.shape),)

    def jvp(self, t, x, y):
        return t[self.index]

    def error_message(self, xs, exc):
        (x,) = xs
        return f"getitem: {exc} (tensor of shape {tuple(x.shape)})"


class IndexAdd(Op):
    """zeros(shape) with ``g`` added at ``index``: the adjoint of GetItem (used when the backward
    pass of an indexing op is itself differentiated)."""

    name = "index_add"
    rebind = ("index",)  # per-call data: cr.compile sets it anew at every replay

    def __init__(self, index, shape: tuple[int, ...]):
        self.index, self.shape = index, shape

    def forward(self, g):
        return ArrayMath.index_add(g, self.index, self.shape)

    def vjp(self, m, g, x, y):
        return (g[self.index],)

    def jvp(self, t, x, y):
        return ArrayMath.index_add(t, self.index, self.shape)
