"""The fused Elman RNN op over a whole sequence (``RNNLayer``), tanh or relu (see
``chainrule.ops.rnn`` for the arithmetic and the two gradient paths)."""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.elementwise import Relu
from chainrule.ops.rnn.common import stack_steps, tanh_of, time_order, weight_grad


class RNNLayer(Op):
    """A whole Elman RNN layer (one direction): h_t = act(xg_t + h_{t-1} W_hhᵀ), act tanh or relu.

    Inputs: xg (T, N, H) = x_t W_ihᵀ + b_ih + b_hh (time-major), h0 (N, H), w_hh (H, H).
    Output (T, N, H) (``reverse`` as in ``LSTMLayer``). VJP: da_t = (g_t + dh_t) ⊙ act'(h_t),
    dh_{t-1} = da_t W_hh, dW_hh = Σ_t da_tᵀ h_{t-1}; act' is 1 - h² for tanh, [h > 0] for relu.
    """

    name = "rnn_layer"

    def __init__(self, nonlinearity: str = "tanh", reverse: bool = False):
        self.nonlinearity, self.reverse = nonlinearity, reverse

    def forward(self, xg, h0, w):
        T, N, H = xg.shape
        y = xp.empty((T, N, H), dtype=xp.result_type(xg, h0, w))
        wt = w.T
        h = h0
        for t in time_order(T, self.reverse):
            a = y[t]
            xp.matmul(h, wt, out=a)
            a += xg[t]
            if self.nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            h = a
        return y

    def _act(self, m, a):
        return tanh_of(m, a) if self.nonlinearity == "tanh" else m.apply(Relu(), a)

    def _back(self, m, g, h):
        if self.nonlinearity == "tanh":
            return g * (1 - h * h)
        return m.where(h > 0, g, 0)

    def vjp(self, m, gy, xg, h0, w, y):
        T = xg.shape[0]
        order = time_order(T, self.reverse)
        hs = [None] * T
        if m is ArrayMath:
            for t in order:
                hs[t] = y[t]
        else:
            wt = m.swapaxes(w, 0, 1)
            h = h0
            for t in order:
                h = hs[t] = self._act(m, xg[t] + m.matmul(h, wt))
        prevs = [None] * T
        prev = h0
        for t in order:
            prevs[t] = prev
            prev = hs[t]
        da = [None] * T
        dh = None
        for t in reversed(order):
            gh = gy[t] if dh is None else gy[t] + dh
            da[t] = self._back(m, gh, hs[t])
            dh = m.matmul(da[t], w)
        da_all = stack_steps(m, da)
        return da_all, dh, weight_grad(m, da_all, prevs)

    def jvp(self, txg, th0, tw, xg, h0, w, y):
        T = xg.shape[0]
        ty = xp.empty_like(y)
        th, h = th0, h0
        for t in time_order(T, self.reverse):
            ta = txg[t] + th @ w.T + h @ tw.T
            h = y[t]
            th = ta * (1 - h * h) if self.nonlinearity == "tanh" else xp.where(h > 0, ta, 0)
            ty[t] = th
        return ty
