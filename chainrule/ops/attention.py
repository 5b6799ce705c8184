"""Fused ops of additive (Bahdanau) attention, the soft attention of Show, Attend and Tell.

For L regions with projected features P (N, L, A), a projected query q (N, A) and a vector w (A,),
the scores are e = tanh(P + q) · w. Composed of primitives this is a broadcast add, a tanh and a
matrix-vector product, and in backward the tanh derivative alone is three passes over (N, L, A),
plus an outer product through a general matmul; it runs once per decoded word, so it is fused:

* ``AdditiveScore``: (P, q, w) → e (N, L), saving t = tanh(P + q) (the largest array) once;
* ``WeightedSum``: (α, V) → Σ_l α_l V_l (N, D), whose gradient for V is a broadcast product
  rather than N outer products through a batched matmul (the ``captioner`` workload of
  benchmarks/suite.py measures the step).

Both VJPs are written with operators and ``m.*`` so that they are differentiable again; the
first-order path of ``AdditiveScore`` works in place on one buffer.
"""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.elementwise import Tanh


class AdditiveScore(Op):
    """e[n, l] = Σ_a w[a] tanh(P[n, l, a] + q[n, a]).

    Inputs P (N, L, A), q (N, A), w (A,); output e (N, L). With t = tanh(P + q) saved and
    s = (g ⊗ w) ⊙ (1 - t²) the gradient of the pre-activation:

        dP = s      dq = Σ_l s      dw = Σ_{n,l} g[n, l] t[n, l, :]
    """

    name = "additive_score"

    def forward(self, P, q, w):
        t = P + q[:, None, :]
        xp.tanh(t, out=t)
        self.t = t
        return t @ w

    def vjp(self, m, g, P, q, w, y):
        n, L, a = P.shape
        if m is ArrayMath:
            t = self.t
            s = t * t  # one buffer, updated in place: s = (1 - t²) ⊙ g ⊙ w
            xp.subtract(1, s, out=s)
            s *= g[:, :, None]
            s *= w
            dw = g.reshape(n * L) @ t.reshape(n * L, a)
            return s, s.sum(axis=1), dw
        t = m.apply(Tanh(), P + q.reshape((n, 1, a)))
        s = (g.reshape((n, L, 1)) * w) * (1 - t * t)
        dw = m.matmul(g.reshape((1, n * L)), t.reshape((n * L, a))).reshape((a,))
        return s, s.sum(axis=1), dw

    def jvp(self, tP, tq, tw, P, q, w, y):
        t = self.t
        return ((1 - t * t) * (tP + tq[:, None, :])) @ w + t @ tw

    def error_message(self, xs, exc):
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return f"additive_score: expected P (N, L, A), q (N, A), w (A,); got {shapes}"


class WeightedSum(Op):
    """z[n] = Σ_l α[n, l] V[n, l, :]: inputs α (N, L) and V (N, L, D), output (N, D).

    dα[n, l] = V[n, l, :] · g[n]        dV[n, l, :] = α[n, l] g[n]
    """

    name = "weighted_sum"

    def forward(self, alpha, v):
        return xp.matmul(alpha[:, None, :], v)[:, 0, :]

    def vjp(self, m, g, alpha, v, y):
        n, L, d = v.shape
        dalpha = m.matmul(v, g.reshape((n, d, 1))).reshape((n, L))
        dv = alpha.reshape((n, L, 1)) * g.reshape((n, 1, d))
        return dalpha, dv

    def jvp(self, ta, tv, alpha, v, y):
        return xp.matmul(ta[:, None, :], v)[:, 0, :] + xp.matmul(alpha[:, None, :], tv)[:, 0, :]

    def error_message(self, xs, exc):
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return f"weighted_sum: expected alpha (N, L) and values (N, L, D); got {shapes}"
