"""Batch normalisation in training mode as one op: composed of primitives it is a dozen passes
over the activations forward and back; fused it is a few.
"""

from __future__ import annotations

import math

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.conv import Geometry, to_channels_last
from chainrule.ops.pool import (
    MaxPool2dScatter,
    max_pool2d,
    max_pool2d_gather,
    max_pool2d_scatter_add,
)


class BatchNormTrain(Op):
    """y = x̂ · w + b with x̂ = (x - μ) / √(σ² + ε), μ and σ² (biased) over ``axes`` per channel.

    With n elements per channel, s = 1/√(σ² + ε) and sums over the normalised axes,

        db = Σ g        dw = Σ g x̂        dx = w s (g - db / n - x̂ · dw / n)

    Inputs x: (N, C, *), w and b: (C,). Forward keeps μ, σ² (for the running statistics) and s,
    not x̂: the backward recomputes x̂ = (x - μ) s from x, which the graph holds anyway, in one
    pass, as PyTorch does. Keeping it would hold a second activation-sized array per layer from
    forward to backward (16 MiB in the captioner's encoder, at the step's peak). When the backward
    pass is itself recorded (``create_graph=True``) x̂ and s are recomputed from x with
    differentiable ops, so that gradients of gradients are right.
    """

    name = "batch_norm"
    saves = (0, 1)  # x and w (x̂ is recomputed from x), not the output

    def __init__(self, eps: float):
        self.eps = eps

    def _shapes(self, x):
        axes = (0, *range(2, x.ndim))
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        return axes, bshape, math.prod(x.shape) // x.shape[1]

    def forward(self, x, w, b):
        rows = _channel_rows(x)
        if rows is not None:
            return self._forward_rows(x, rows, w, b)
        axes, bshape, _ = self._shapes(x)
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = xp.square(xc).mean(axis=axes, keepdims=True)
        self.mean, self.var = mean, var
        self.invstd = 1.0 / xp.sqrt(var + self.eps)
        xc *= self.invstd  # x̂, in place: xc is ours
        return _affine(xc, w.reshape(bshape), b.reshape(bshape))

    def _forward_rows(self, x, X, w, b):
        """The same on X (M, C), the channels-last memory of x seen as one row per position:
        per-channel sums are then products with a vector of ones (BLAS, a fraction of a pass)
        instead of reductions across the memory's fast axis."""
        m = X.shape[0]
        _, bshape, _ = self._shapes(x)
        ones = xp.ones(m, dtype=X.dtype)
        mean = (ones @ X) * (1.0 / m)
        xc = X - mean
        var = xp.einsum("ij,ij->j", xc, xc) * (1.0 / m)
        self.mean, self.var = mean.reshape(bshape), var.reshape(bshape)
        invstd = 1.0 / xp.sqrt(var + self.eps)
        self.invstd = invstd.reshape(bshape)
        # (x - μ) · (s·w) + b in place (xc is ours): one pass fewer than x̂ · w + b; PyTorch's
        # CPU kernel folds s·w likewise (x · α + β with α = s·w).
        return _as_nchw(_affine(xc, invstd * w, b), x.shape)

    def _xhat(self, x):
        """x̂ = (x - μ) s, recomputed from x for the backward (forward never forms it alone)."""
        rows = _channel_rows(x)
        if rows is not None:
            xhat = rows - self.mean.reshape(-1)
            xhat *= self.invstd.reshape(-1)
            return _as_nchw(xhat, x.shape)
        xhat = x - self.mean
        xhat *= self.invstd
        return xhat

    def _normalised(self, m, x):
        """(x̂, s): saved from forward on the first-order path, recomputed differentiably else."""
        if m is ArrayMath:
            return self._xhat(x), self.invstd
        axes, _, n = self._shapes(x)
        xc = x - x.sum(axis=axes, keepdims=True) * (1.0 / n)
        invstd = 1.0 / m.sqrt((xc * xc).sum(axis=axes, keepdims=True) * (1.0 / n) + self.eps)
        return xc * invstd, invstd

    def vjp(self, m, g, x, w, b, y):
        if m is ArrayMath:
            G, X = _channel_rows(g), _channel_rows(x)
            if G is not None and X is not None:
                return self._vjp_rows(g, G, X, w, b)
        axes, bshape, n = self._shapes(x)
        xhat, invstd = self._normalised(m, x)
        gb = g.sum(axis=axes, keepdims=True)
        gw = (g * xhat).sum(axis=axes, keepdims=True)
        gx = (w.reshape(bshape) * invstd) * (g - gb * (1.0 / n) - xhat * (gw * (1.0 / n)))
        return gx, gw.reshape(w.shape), gb.reshape(b.shape)

    def _vjp_rows(self, g, G, X, w, b):
        n = G.shape[0]
        gb = xp.ones(n, dtype=G.dtype) @ G
        gx = X - self.mean.reshape(-1)  # x̂, recomputed (see forward), then overwritten by dx
        gx *= self.invstd.reshape(-1)
        gw = xp.einsum("ij,ij->j", G, gx)
        gx *= gw * (1.0 / n)
        gx += gb * (1.0 / n)
        xp.subtract(G, gx, out=gx)
        gx *= w * self.invstd.reshape(-1)
        return _as_nchw(gx, g.shape), gw.reshape(w.shape), gb.reshape(b.shape)

    def jvp(self, tx, tw, tb, x, w, b, y):
        axes, bshape, _ = self._shapes(x)
        xhat, s = self._xhat(x), self.invstd
        mx = tx.mean(axis=axes, keepdims=True)
        mxx = (tx * xhat).mean(axis=axes, keepdims=True)
        txhat = s * (tx - mx - xhat * mxx)
        return txhat * w.reshape(bshape) + xhat * tw.reshape(bshape) + tb.reshape(bshape)


def _affine(xhat, w, b):
    """x̂ · w + b, in x̂'s memory when the dtypes allow (x̂ is the op's own scratch)."""
    if xp.result_type(xhat, w, b) == xhat.dtype:
        xhat *= w
        xhat += b
        return xhat
    return xhat * w + b


def _channel_rows(x):
    """x (N, C, H, W) with channels-last memory as its (N·H·W, C) matrix (no copy), else None."""
    if x.ndim != 4:
        return None
    xh = x.transpose(0, 2, 3, 1)
    if not xh.flags.c_contiguous:
        return None
    return xh.reshape(-1, x.shape[1])


def _as_nchw(rows, shape):
    """The (N·H·W, C) matrix back as an (N, C, H, W) view with channels-last memory."""
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


class BatchNormMaxPool2d(BatchNormTrain):
    """z = maxpool(BN(x)): training-mode batch norm followed by max pooling, as one op, so that
    the backward never builds the full-size gradient of BN's output.

    Inputs x: (N, C, H, W), w and b: (C,); geometry ``geom`` (windows without padding) →
    z: (N, C, Ho, Wo). The forward is ``BatchNormTrain``'s, then ``max_pool2d`` on its result,
    which is then freed (the argmax offsets are kept, as by ``MaxPool2d``). The gradient dY of
    BN's output is zero except at each window's argmax, where it is g; with
    db = Σ g, dw = Σ_windows g · x̂[argmax] and α = w·s, BN's dx = α (dY - db/n - x̂ · dw/n) is

        dx = (x - μ) · (-α s dw / n) - α db / n,  then  + α g at each window's argmax:

    three passes over x's size and a scatter-add of g, against BN's seven passes, pooling's
    scatter and ReLU's mask when the three run as separate ops. Pool-then-ReLU equals
    ReLU-then-pool exactly (values, and the gradient's position, ties included): the caller
    applies the ReLU to z, a quarter of the size. Recorded backward passes
    (``create_graph=True``) compose ``MaxPool2dScatter`` and ``BatchNormTrain``'s VJP instead.
    """

    name = "batch_norm_max_pool2d"

    def __init__(self, eps: float, geom: Geometry):
        super().__init__(eps)
        self.geom = geom
        self.idx = None

    def forward(self, x, w, b):
        z, self.idx = max_pool2d(super().forward(x, w, b), self.geom)
        return z

    def vjp(self, m, g, x, w, b, y):
        X = _channel_rows(x) if m is ArrayMath else None
        if X is None:
            dy = m.apply(MaxPool2dScatter(self.geom, self.idx, x.shape), g)
            return super().vjp(m, dy, x, w, b, None)
        mean, invstd = self.mean.reshape(-1), self.invstd.reshape(-1)
        n = X.shape[0]
        gh = to_channels_last(g).transpose(0, 2, 3, 1)  # (N, Ho, Wo, C)
        G = gh.reshape(-1, gh.shape[3])
        gb = xp.ones(G.shape[0], dtype=g.dtype) @ G  # Σ dY = Σ g: each g lands once
        # x̂ at each window's argmax, the only pixels where dY is not zero.
        xhat_am = _channel_rows(max_pool2d_gather(x, self.idx, self.geom)) - mean
        xhat_am *= invstd
        gw = xp.einsum("ij,ij->j", G, xhat_am)
        alpha = w * invstd
        gx = X - mean
        gx *= -alpha * invstd * gw * (1.0 / n)
        gx -= alpha * gb * (1.0 / n)
        dx = _as_nchw(gx, x.shape)
        max_pool2d_scatter_add(dx, gh * alpha, self.idx, self.geom)
        return dx, gw.reshape(w.shape), gb.reshape(b.shape)

    def jvp(self, tx, tw, tb, x, w, b, y):
        return max_pool2d_gather(super().jvp(tx, tw, tb, x, w, b, None), self.idx, self.geom)


class GroupNorm(Op):
    """y = x̂ · w + b per channel, x̂ normalised per sample over each group of channels (and all
    positions): group norm, and layer norm as its case of one group over (N, D, 1).

    Input x: (N, C, S) (the caller flattens positions into S), w and b: (C,); ``groups`` G
    divides C. With rows r = (sample, group) of K = C/G·S elements, s = 1/√(σ² + ε) per row,
    gw' = g · w broadcast per channel and sums over a row,

        dx = s (g w - Σ g w / K - x̂ · Σ (g w x̂) / K)     dw = Σ g x̂     db = Σ g

    Composed of primitives this is a dozen passes forward and back; fused it is about ten.
    Forward keeps x̂ (one activation-sized array) for the backward: recomputing it, as
    ``BatchNormTrain`` does, would add two passes to the backward. The backward allocates
    only dx: the sums of g x̂ are row dots (no g x̂ array), and x̂·c + a is formed block by
    block in a small scratch array (``_subtract_affine_rows``).
    Recorded backward passes (``create_graph=True``) recompute x̂ with differentiable ops.
    """

    name = "group_norm"
    saves = (0, 1)  # x (recorded backward passes recompute x̂ from it) and w

    def __init__(self, eps: float, groups: int):
        self.eps, self.groups = eps, groups

    def _rows(self, x):
        n, c, s = x.shape
        return n * self.groups, c // self.groups * s

    def forward(self, x, w, b):
        r, k = self._rows(x)
        # x - mean allocates x̂'s buffer; every later step of the forward works in place in it.
        xhat = x.reshape(r, k) - (xp.einsum("ij->i", x.reshape(r, k)) * (1.0 / k))[:, None]
        var = xp.einsum("ij,ij->i", xhat, xhat) * (1.0 / k)
        self.invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat *= self.invstd[:, None]
        self.xhat = xhat
        return _affine_channels(xhat, w, b, x.shape)

    def vjp(self, m, g, x, w, b, y):
        if m is not ArrayMath:
            return self._vjp_recorded(m, g, x, w)
        n, c, s = x.shape
        r, k = self._rows(x)
        xhat, invstd = self.xhat, self.invstd
        if s == 1 and self.groups == 1:
            return self._vjp_layer(g.reshape(n, c), xhat, invstd, w)
        # Σ_s g x̂ and Σ_s g per (sample, channel) without forming g x̂: row dots (einsum) and
        # matrix-vector products, so the backward allocates nothing activation-sized but dx.
        q = xp.einsum("ij,ij->i", g.reshape(n * c, s), xhat.reshape(n * c, s)).reshape(n, c)
        rg = _channel_sums(g, n, c, s)
        ones = xp.ones(n, dtype=q.dtype)
        gw, gb = ones @ q, ones @ rg  # matrix-vector products: BLAS, faster than sum(axis=0)
        scale = invstd * (1.0 / k)
        c_row = _group_dot(q, w, self.groups) * scale  # s Σ(g w x̂) / K per row
        a_row = _group_dot(rg, w, self.groups) * scale  # s Σ(g w) / K per row
        # s·w per (sample, channel): dx starts as g s w in one pass.
        sw = (invstd.reshape(n, self.groups, 1) * w.reshape(self.groups, -1)).reshape(n, c)
        dx = g.reshape(x.shape) * sw[:, :, None]
        _subtract_affine_rows(dx.reshape(r, k), xhat, c_row, a_row)
        return dx, gw, gb

    def _vjp_layer(self, G, xhat, invstd, w):
        """Layer norm's case (one group, one position: rows are samples, columns channels)."""
        k = G.shape[1]
        gw = xp.einsum("ij,ij->j", G, xhat)
        gb = xp.ones(G.shape[0], dtype=G.dtype) @ G
        dx = _times_pattern(G, w)  # g w, then dx in place
        scale = invstd * (1.0 / k)
        c_row = xp.einsum("ij,ij->i", dx, xhat) * scale  # s Σ(g w x̂) / K per row
        a_row = (dx @ xp.ones(k, dtype=dx.dtype)) * scale  # s Σ(g w) / K per row
        _subtract_affine_rows(dx, xhat, c_row, a_row, invstd)
        return dx.reshape(-1, k, 1), gw, gb

    def _vjp_recorded(self, m, g, x, w):
        n, c, s = x.shape
        r, k = self._rows(x)
        X = x.reshape((r, k))
        xc = X - X.sum(axis=1, keepdims=True) * (1.0 / k)
        invstd = 1.0 / m.sqrt((xc * xc).sum(axis=1, keepdims=True) * (1.0 / k) + self.eps)
        xhat = xc * invstd
        dxhat = (g * w.reshape((c, 1))).reshape((r, k))
        mean_d = dxhat.sum(axis=1, keepdims=True) * (1.0 / k)
        mean_dx = (dxhat * xhat).sum(axis=1, keepdims=True) * (1.0 / k)
        gx = invstd * (dxhat - mean_d - xhat * mean_dx)
        gw = (g * xhat.reshape((n, c, s))).sum(axis=(0, 2))
        return gx.reshape((n, c, s)), gw, g.sum(axis=(0, 2))

    def jvp(self, tx, tw, tb, x, w, b, y):
        r, k = self._rows(x)
        xhat, invstd = self.xhat, self.invstd
        t = tx.reshape(r, k)
        mt = t.sum(axis=1, keepdims=True) * (1.0 / k)
        mtx = xp.einsum("ij,ij->i", t, xhat)[:, None] * (1.0 / k)
        txhat = (invstd[:, None] * (t - mt - xhat * mtx)).reshape(x.shape)
        return txhat * w[:, None] + xhat.reshape(x.shape) * tw[:, None] + tb[:, None]


def _channel_sums(a, n, c, s):
    """a (any shape of N·C·S elements) summed over positions: (N, C)."""
    if s == 1:
        return a.reshape(n, c)
    return (a.reshape(n * c, s) @ xp.ones(s, dtype=a.dtype)).reshape(n, c)


def _group_dot(q, w, groups):
    """Σ over each group's channels of q · w: q (N, C), w (C,) → (N · G,) in row order."""
    if groups == 1:
        return q @ w
    return xp.einsum(
        "ngc,gc->ng", q.reshape(q.shape[0], groups, -1), w.reshape(groups, -1)
    ).reshape(-1)


_BLOCK = 1 << 16  # elements per block of rows: its scratch (256 KiB in float32) stays in cache


def _subtract_affine_rows(d, xhat, c_row, a_row, scale=None):
    """d ← d·scale - (x̂·c + a) per row, in place, block by block of rows: the product x̂·c
    needs a scratch array, and a block-sized one stays in cache where a whole-sized one would
    be a fresh allocation (page faults) and one more pass through memory."""
    rows = max(1, _BLOCK // d.shape[1])
    tmp = xp.empty((min(rows, d.shape[0]), d.shape[1]), dtype=d.dtype)
    for i in range(0, d.shape[0], rows):
        j = min(i + rows, d.shape[0])
        t, db = tmp[: j - i], d[i:j]
        xp.multiply(xhat[i:j], c_row[i:j, None], out=t)
        t += a_row[i:j, None]
        if scale is not None:
            db *= scale[i:j, None]
        db -= t


def _times_pattern(a, pattern):
    """a · pattern, for a C-contiguous a whose rows (its last axis) repeat ``pattern``: on a view
    whose rows hold several of them (at least ``_PATTERN`` elements) and the pattern tiled to
    match. NumPy's broadcast loop runs once per row, and rows of a few hundred cost ~1.5x a
    long row's time (0.27 -> 0.18 ms for (4096, 256) · (256,)); the products are the same."""
    rows, m = a.size // pattern.size, pattern.size
    reps = _rows_per_view(rows, m)
    return (a.reshape(rows // reps, reps * m) * xp.tile(pattern, reps)).reshape(a.shape)


def _affine_channels(xhat, w, b, shape):
    """x̂ · w + b per channel of x̂ seen as (N, C, S): w and b repeated along S into one
    sample's pattern (C·S), so that the loops run over whole samples (see ``_times_pattern``)
    rather than once per channel segment of S (0.55 -> 0.32 ms at (16, 64, 1024))."""
    n, c, s = shape
    wp, bp = xp.repeat(w, s), xp.repeat(b, s)
    reps = _rows_per_view(n, c * s)
    y = xhat.reshape(n // reps, reps * c * s) * xp.tile(wp, reps)
    y += xp.tile(bp, reps)
    return y.reshape(shape)


_PATTERN = 1 << 14  # elements per row of the views above: past this, a longer row gains nothing


def _rows_per_view(rows: int, m: int) -> int:
    """How many rows of m elements to join per row of the view: the fewest dividing ``rows``
    that give at least ``_PATTERN`` elements (1 when none within a few times that)."""
    want = -(-_PATTERN // m)
    for k in range(want, min(rows, 4 * want) + 1):
        if rows % k == 0:
            return k
    return 1
