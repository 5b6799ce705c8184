"""Batch normalisation in training mode as one op: composed of primitives it is a dozen passes
over the activations forward and back; fused it is a few.
"""

from __future__ import annotations

import math

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op


class BatchNormTrain(Op):
    """y = x̂ · w + b with x̂ = (x - μ) / √(σ² + ε), μ and σ² (biased) over ``axes`` per channel.

    With n elements per channel, s = 1/√(σ² + ε) and sums over the normalised axes,

        db = Σ g        dw = Σ g x̂        dx = w s (g - db / n - x̂ · dw / n)

    Inputs x: (N, C, *), w and b: (C,). Forward keeps μ, σ² (for the running statistics), s and
    x̂. The first-order backward reuses x̂ and s; when the backward pass is itself recorded
    (``create_graph=True``) they are recomputed from x with differentiable ops, so that gradients
    of gradients are right.
    """

    name = "batch_norm"

    def __init__(self, eps: float):
        self.eps = eps

    def _shapes(self, x):
        axes = (0, *range(2, x.ndim))
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        return axes, bshape, math.prod(x.shape) // x.shape[1]

    def forward(self, x, w, b):
        axes, bshape, _ = self._shapes(x)
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = xp.square(xc).mean(axis=axes, keepdims=True)
        self.mean, self.var = mean, var
        self.invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat = xc
        xhat *= self.invstd  # in place: xc is ours
        self.xhat = xhat
        y = xhat * w.reshape(bshape)
        y += b.reshape(bshape)
        return y

    def _normalised(self, m, x):
        """(x̂, s): saved from forward on the first-order path, recomputed differentiably else."""
        if m is ArrayMath:
            return self.xhat, self.invstd
        axes, _, n = self._shapes(x)
        xc = x - x.sum(axis=axes, keepdims=True) * (1.0 / n)
        invstd = 1.0 / m.sqrt((xc * xc).sum(axis=axes, keepdims=True) * (1.0 / n) + self.eps)
        return xc * invstd, invstd

    def vjp(self, m, g, x, w, b, y):
        axes, bshape, n = self._shapes(x)
        xhat, invstd = self._normalised(m, x)
        gb = g.sum(axis=axes, keepdims=True)
        gw = (g * xhat).sum(axis=axes, keepdims=True)
        gx = (w.reshape(bshape) * invstd) * (g - gb * (1.0 / n) - xhat * (gw * (1.0 / n)))
        return gx, gw.reshape(w.shape), gb.reshape(b.shape)

    def jvp(self, tx, tw, tb, x, w, b, y):
        axes, bshape, _ = self._shapes(x)
        xhat, s = self.xhat, self.invstd
        mx = tx.mean(axis=axes, keepdims=True)
        mxx = (tx * xhat).mean(axis=axes, keepdims=True)
        txhat = s * (tx - mx - xhat * mxx)
        return txhat * w.reshape(bshape) + xhat * tw.reshape(bshape) + tb.reshape(bshape)
