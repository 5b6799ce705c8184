"""Matrix product with NumPy's rules: 1-D operands are promoted and batch axes broadcast."""

from __future__ import annotations

from chainrule.backend import matmul
from chainrule.ops.base import Op, cross_saved


class MatMul(Op):
    """a @ b. With A: (..., N, K), B: (..., K, M): dA = dY Bᵀ, dB = Aᵀ dY."""

    name = "matmul"
    saved = staticmethod(cross_saved)

    def forward(self, a, b):
        return matmul(a, b)

    def vjp(self, m, g, a, b, y):
        # A GEMM per gradient is the whole cost of this op: skip the one nobody needs (the data
        # batch entering the first layer needs none).
        need_a, need_b = (t.requires_grad for t in self.inputs)
        if a.ndim >= 2 and b.ndim >= 2:
            ga = m.matmul(g, m.swapaxes(b, -1, -2)) if need_a else None
            gb = m.matmul(m.swapaxes(a, -1, -2), g) if need_b else None
            return ga, gb
        if a.ndim == 1 and b.ndim == 1:  # a dot product: g is a scalar, the gradients scalings
            return (g * b if need_a else None), (g * a if need_b else None)
        # Promote 1-D operands as NumPy does (a: row, b: column), then drop the added axes.
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = (
                g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else g2.reshape((1,))
            )
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = m.matmul(g2, m.swapaxes(b2, -1, -2))
        gb = m.matmul(m.swapaxes(a2, -1, -2), g2)
        if a.ndim == 1:
            ga = m.sum_to(ga, (1, a.shape[0])).reshape(a.shape)
        if b.ndim == 1:
            gb = m.sum_to(gb, (b.shape[0], 1)).reshape(b.shape)
        return ga, gb

    def jvp(self, ta, tb, a, b, y):
        return matmul(ta, b) + matmul(a, tb)

    def error_message(self, xs, exc):
        a, b = xs
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: both operands need at least 1 dimension; got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            return (
                f"matmul: inner dimensions differ: a {tuple(a.shape)} has {ka} columns but "
                f"b {tuple(b.shape)} has {kb} rows"
            )
        return f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast"


class Linear(Op):
    """y = x Wᵀ + b, a fully connected layer in one op, for x: (N, D_in), W: (D_out, D_in) and an
    optional b: (D_out,) as third input.

        dx = dY W,   dW = dYᵀ x,   db = Σ_n dY

    One GEMM per needed gradient and no transposed copies or separate bias add: at small batch
    sizes the ops around a GEMM cost as much as the GEMM itself.
    """

    name = "linear"
    saved = staticmethod(cross_saved)

    def forward(self, x, w, b=None):
        y = matmul(x, w.T)
        if b is None:
            return y
        if b.dtype == y.dtype:
            y += b  # the product is a fresh array: add the bias in place
            return y
        return y + b

    def vjp(self, m, g, x, w, *rest):
        need = [t.requires_grad for t in self.inputs] if self.inputs else [True] * (1 + len(rest))
        gx = m.matmul(g, w) if need[0] else None
        gw = m.matmul(m.swapaxes(g, -1, -2), x) if need[1] else None
        if len(rest) == 1:
            return gx, gw
        gb = g.sum(axis=0) if need[2] else None
        return gx, gw, gb

    def jvp(self, tx, tw, *rest):
        if len(rest) == 5:  # tangent of b, then x, w, b, y
            tb, x, w = rest[:3]
        else:  # x, w, y
            tb, (x, w) = None, rest[:2]
        t = matmul(tx, w.T) + matmul(x, tw.T)
        return t if tb is None else t + tb
