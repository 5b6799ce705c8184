"""Embedding lookup: rows of a table gathered by integer indices, and the scatter-add back.

``weight[indices]`` through the generic GetItem op would give the same gradient, but its scatter
is ``numpy.add.at``, which is slow; this op sums the rows that share an index after one sort
(the ``captioner`` workload of benchmarks/suite.py measures it), and it also needs to keep the row
``padding_idx`` out of the gradient and to scale by frequency when asked.
"""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op


def scatter_rows(g, indices, num_rows: int):
    """dW (num_rows, D) with dW[v] = Σ of the rows g[p] whose indices[p] == v.

    g: (*, D) with * the shape of ``indices``. Rows are summed in their order (a stable sort):
    the k-th occurrence of every index is added in round k, each round one gather and one
    scatter without repeats. ``add.reduceat`` over the sorted rows, the same sums in the same
    order, ran 6x PyTorch's time on 8,192 indices into 10,000 rows (reduceat along axis 0 is
    slow); it stays for indices repeated many times (a small vocabulary), where rounds would be
    many.
    """
    flat = indices.reshape(-1)
    rows = g.reshape(flat.size, g.shape[-1])
    out = xp.zeros((num_rows, g.shape[-1]), dtype=g.dtype)
    if flat.size == 0:
        return out
    # The same stable order from 16-bit keys when the table allows: NumPy sorts those by radix,
    # 8x faster than its merge sort of int64 (0.43 -> 0.05 ms on 8,192 indices).
    key = flat.astype(xp.uint16) if num_rows <= 1 << 16 else flat
    order = xp.argsort(key, kind="stable")
    sorted_idx = flat[order]
    first = xp.concatenate(([True], sorted_idx[1:] != sorted_idx[:-1]))
    starts = xp.flatnonzero(first)
    rank = xp.arange(flat.size) - starts[xp.cumsum(first) - 1]  # occurrence number of each
    if rank.max() >= _MAX_ROUNDS:
        out[sorted_idx[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
        return out
    for k in range(int(rank.max()) + 1):
        at = order[rank == k]
        if k == 0:
            out[flat[at]] = rows[at]
        else:
            out[flat[at]] += rows[at]
    return out


_MAX_ROUNDS = 16


class Embedding(Op):
    """y = weight[indices]: (V, D) table, integer indices of any shape (*) → (*, D).

    VJP: dW[v] = Σ_{p : indices[p] = v} g[p] (repeated indices accumulate); the row
    ``padding_idx`` receives no gradient (it is treated as a constant, in forward mode too). With
    ``scale_grad_by_freq`` each row's gradient is divided by how often its index occurs.
    """

    name = "embedding"
    per_call_arrays = ("indices",)  # cr.compile sets it anew at every replay

    def __init__(self, indices, padding_idx: int | None = None, scale_grad_by_freq: bool = False):
        self.indices = indices
        self.padding_idx = padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq

    def forward(self, w):
        return xp.take(w, self.indices, axis=0)

    def _row_weights(self, dtype):
        """Per-position factors (*, 1) for the upstream gradient, or None when all are 1."""
        keep = None
        if self.scale_grad_by_freq:
            _, inverse, counts = xp.unique(self.indices, return_inverse=True, return_counts=True)
            keep = (1.0 / counts)[inverse.reshape(self.indices.shape)]
        if self.padding_idx is not None:
            pad = self.indices != self.padding_idx
            keep = pad if keep is None else keep * pad
        return None if keep is None else keep.astype(dtype)[..., None]

    def vjp(self, m, g, w, y):
        k = self._row_weights(w.dtype)
        if k is not None:
            g = g * k
        if m is ArrayMath:
            return (scatter_rows(g, self.indices, w.shape[0]),)
        return (m.index_add(g, self.indices, w.shape),)

    def jvp(self, t, w, y):
        ty = xp.take(t, self.indices, axis=0)
        if self.padding_idx is not None:
            ty = ty * (self.indices != self.padding_idx)[..., None]
        return ty

    def error_message(self, xs, exc):
        (w,) = xs
        return f"embedding: {exc} (table of shape {tuple(w.shape)})"
