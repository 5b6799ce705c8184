"""Losses fused for numerical stability: softmax with cross-entropy, sigmoid with binary
cross-entropy, and binary cross-entropy with PyTorch's clamped logarithm.

Each returns the loss of every sample (no reduction); the public functions in
``chainrule.functional.loss`` reduce it with ordinary ops.
"""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.elementwise import sigmoid_array
from chainrule.ops.fused import _sum, log_softmax, log_softmax_parts, rows_summable


class SoftmaxCrossEntropy(Op):
    """Cross-entropy of softmax(x) against target weights along axis 1, in one stable op.

    With x: (N, C, *) logits and a constant B: (N, C, *) of non-negative target weights,

        l[n, *] = -Σ_c B[n, c, *] log softmax(x)[n, c, *]
        dl/dx   = softmax(x) · Σ_c B[n, c, *]  -  B

    Every flavour of PyTorch's ``cross_entropy`` is such a B: a class index t with class weights
    w and label smoothing ε gives B = (1 - ε) w_t onehot(t) + (ε / C) w (and 0 where the target
    is ignored); a probability target y gives B = w ((1 - ε) y + ε / C). log-softmax is computed
    as (x - max) - log Σ e^(x - max), so no exponent overflows and no log of 0 is taken.
    """

    name = "cross_entropy"

    per_call_arrays = ("B",)  # cr.compile sets it anew at every replay

    def __init__(self, target_weights):
        self.B = target_weights

    def forward(self, x):
        self.A = _sum(self.B, 1)  # einsum's row loop for (N, C): 3x faster than sum(axis=1)
        # Kept for the backward pass: softmax, as e^(x - max) / Σ (one division; an exp of the
        # log-softmax there cost several passes, NumPy's float32 exp being slow).
        ls, e, s = log_softmax_parts(x, 1)
        e /= s
        self.p = e
        if ls.ndim == 2 and rows_summable(1, self.B, ls):  # Σ_c B log softmax, no temporary
            return -xp.einsum("ij,ij->i", self.B, ls)
        prod = self.B * ls
        return -prod.sum(axis=1)

    def vjp(self, m, g, x, y):
        g1 = g.reshape(g.shape[:1] + (1,) + g.shape[1:])
        if m is ArrayMath and self.p.ndim > 0:
            d = self.p * self.A
            d -= self.B
            d *= g1
            return (d,)
        p = m.softmax(x, 1)
        return ((p * self.A - self.B) * g1,)

    def jvp(self, t, x, y):
        p = xp.exp(log_softmax(x, 1))
        return ((p * self.A - self.B) * t).sum(axis=1)


class NllLoss(Op):
    """Negative log-likelihood of class indices along axis 1: with x: (N, C, *) log-probabilities,
    constant indices t: (N, *) and weights w: (N, *) (the class weight of t, 0 where ignored),

        l[n, *] = -w[n, *] x[n, t[n, *], *]        dl/dx = -w g at t, 0 elsewhere.

    A gather and a scatter: the dense one-hot it replaced made three passes over (N, C)
    (3.8x PyTorch's time on (4096, 256)), and gave NaN for a -inf log-probability of a class
    not targeted, where PyTorch reads only the target's.
    """

    name = "nll_loss"
    saves = ()
    per_call_arrays = ("index", "w")  # cr.compile sets them anew at every replay

    def __init__(self, index, w):
        self.index, self.w = index, w

    def _flat(self, x):
        """For a C-contiguous (N, C) x, the flat offsets n·C + t[n] of the targets, else None:
        one ``take``/``put`` at them is a third of take/put_along_axis's time, which builds
        broadcast index arrays for a fancy index."""
        if x.ndim != 2 or not x.flags.c_contiguous:
            return None
        index = self.index.astype(xp.intp, copy=False)  # any integer dtype the targets had
        return index + xp.arange(0, x.size, x.shape[1], dtype=xp.intp)

    def _pick(self, x):
        flat = self._flat(x)
        if flat is not None:
            return x.reshape(-1).take(flat)
        return xp.take_along_axis(x, self.index[:, None], axis=1)[:, 0]

    def forward(self, x):
        return -(self._pick(x) * self.w)

    def _spread(self, v, like):
        out = xp.zeros(like.shape, like.dtype)
        flat = self._flat(out)
        if flat is not None:
            out.reshape(-1)[flat] = v
        else:
            xp.put_along_axis(out, self.index[:, None], v[:, None], axis=1)
        return out

    def vjp(self, m, g, x, y):
        if m is ArrayMath:
            return (self._spread(-(g * self.w), x),)
        onehot = self._spread(-self.w.astype(x.dtype), x._data)
        return (g.reshape(g.shape[:1] + (1,) + g.shape[1:]) * onehot,)

    def jvp(self, t, x, y):
        return -(self._pick(t) * self.w)


class BinaryCrossEntropy(Op):
    """l = -(y log x + (1 - y) log(1 - x)) elementwise, for probabilities x and targets y.

    As in PyTorch each log is clamped at -100, so x = 0 or 1 gives a finite loss; the gradient is
    dl/dx = (x - y) / max(x (1 - x), 1e-12) and dl/dy = log(1 - x) - log x, with the logs clamped
    likewise: the derivative of the loss as computed, finite at x = 0 or 1 (where PyTorch's target
    gradient is ±inf).
    """

    name = "binary_cross_entropy"

    def forward(self, x, y):
        lx, l1x = _clamped_logs(xp, x)
        return -(y * lx + (1 - y) * l1x)

    def vjp(self, m, g, x, y, out):
        gx = g * (x - y) / m.maximum(x * (1 - x), 1e-12)
        gy = None
        if _needs_grad(self, 1):
            lx, l1x = _clamped_logs(m, x)
            gy = g * (l1x - lx)
        return gx, gy

    def jvp(self, tx, ty, x, y, out):
        lx, l1x = _clamped_logs(xp, x)
        return tx * (x - y) / xp.maximum(x * (1 - x), 1e-12) + ty * (l1x - lx)


def _clamped_logs(m, x):
    """(max(log x, -100), max(log(1 - x), -100)); log 0 = -inf is expected and clamped."""
    with xp.errstate(divide="ignore"):
        return m.maximum(m.log(x), -100.0), m.maximum(m.log(1 - x), -100.0)


class SmoothL1(Op):
    """Smooth L1 of d = x - y, elementwise (β > 0), without a select:

        l = m (|d| - m/2) / β  with m = min(|d|, β)   (0.5 d²/β below β, |d| - β/2 above)
        dl/dx = clip(d, -β, β) / β = -dl/dy

    As where(|d| < β, ...) over five ops it took 3-5x PyTorch's time (np.where on a random mask
    mispredicts a branch per element)."""

    name = "smooth_l1_loss"
    saves = (0, 1)

    def __init__(self, beta: float):
        self.beta = beta

    def forward(self, x, y):
        a = xp.subtract(x, y)
        xp.abs(a, out=a)
        mn = xp.minimum(a, self.beta)
        half = mn * 0.5
        a -= half
        a *= mn
        if self.beta != 1:
            a /= self.beta
        return a

    def _slope(self, x, y):
        d = xp.subtract(x, y)
        xp.clip(d, -self.beta, self.beta, out=d)
        if self.beta != 1:
            d /= self.beta
        return d

    def vjp(self, m, g, x, y, out):
        if m is ArrayMath:
            d = self._slope(x, y)
            d *= g
            return d, (-d if _needs_grad(self, 1) else None)
        d = x - y
        s = m.minimum(m.maximum(d, -self.beta), self.beta) * (1 / self.beta)
        return g * s, -(g * s)

    def jvp(self, tx, ty, x, y, out):
        return (tx - ty) * self._slope(x, y)


def _softplus_neg(x):
    """softplus(-x) = max(-x, 0) + log1p(e^-|x|) on an array. log1p(e) as log(u) - (u - 1 - e)/u
    with u = 1 + e (the rounding of u corrected to first order, exact enough for every e in
    (0, 1]): NumPy's log1p runs scalar here, 14 ms per 10^6 float32 values against 2 for log."""
    if xp.ndim(x) == 0:
        return xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    u = e + 1
    r = u - 1
    r -= e
    r /= u
    xp.log(u, out=u)
    u -= r
    sp = xp.negative(x)
    xp.maximum(sp, 0, out=sp)
    sp += u
    return sp


class BinaryCrossEntropyWithLogits(Op):
    """Binary cross-entropy of sigmoid(x) against y, in one op that is finite for any logit.

    With softplus(-x) = -log σ(x) = max(-x, 0) + log(1 + e^-|x|) and an optional positive-class
    weight p (a constant broadcast along the last axis),

        l     = (1 - y) x + (1 + (p - 1) y) softplus(-x)
        dl/dx = (1 - y) - (1 + (p - 1) y) σ(-x)          (= σ(x) - y when p = 1)
        dl/dy = -x + (p - 1) softplus(-x)                (= -x when p = 1)
    """

    name = "binary_cross_entropy_with_logits"

    def __init__(self, pos_weight=None):
        self.pos_weight = pos_weight

    def forward(self, x, y):
        sp = _softplus_neg(x)
        if self.pos_weight is None:
            return (1 - y) * x + sp
        return (1 - y) * x + (1 + (self.pos_weight - 1) * y) * sp

    def _grads(self, m, x, y, want_y: bool):
        e = m.exp(-(x * m.sign(x)))  # e^-|x| <= 1: nothing overflows
        pos = x >= 0
        s_neg = m.where(pos, e / (1 + e), 1 / (1 + e))  # σ(-x)
        pw = self.pos_weight
        if pw is None:
            gx = (1 - y) - s_neg
            gy = -x if want_y else None
        else:
            gx = (1 - y) - (1 + (pw - 1) * y) * s_neg
            gy = None
            if want_y:
                sp = m.maximum(-x, 0) + m.log(1 + e)
                gy = -x + (pw - 1) * sp
        return gx, gy

    def vjp(self, m, g, x, y, out):
        if m is ArrayMath and self.pos_weight is None and x.ndim and x.shape == y.shape:
            gx = sigmoid_array(x)  # σ(x) - y, in place: 3 passes where the select form took 9
            gx -= y
            gx *= g
            return gx, (-(g * x) if _needs_grad(self, 1) else None)
        gx, gy = self._grads(m, x, y, _needs_grad(self, 1))
        return g * gx, (None if gy is None else g * gy)

    def jvp(self, tx, ty, x, y, out):
        gx, gy = self._grads(ArrayMath, x, y, True)
        return tx * gx + ty * gy


def _needs_grad(op: Op, i: int) -> bool:
    """Whether input ``i`` of a recorded op wants a gradient (saves computing unused ones)."""
    inputs = op.inputs
    if inputs is None or not isinstance(inputs, tuple):
        return True
    return bool(inputs[i].requires_grad)
