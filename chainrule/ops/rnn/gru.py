"""The fused GRU ops: one step (``GRUCell``) and a whole sequence (``GRULayer``), gate order
(r, z, n) as in PyTorch (see ``chainrule.ops.rnn`` for the arithmetic and the two gradient paths)."""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.rnn.common import (
    sigmoid_into,
    sigmoid_of,
    stack_steps,
    tanh_of,
    time_order,
    weight_grad,
)


def _gru_step_back(gh, r, u, n, hn, h_prev):
    """One GRU step backwards from dL/dh' (gh), the gates (r, u = z, n), h̃_n and h.

        dn_pre = gh ⊙ (1 - u) ⊙ (1 - n²)     du_pre = gh ⊙ (h - n) ⊙ u(1 - u)
        dr_pre = dn_pre ⊙ h̃_n ⊙ r(1 - r)
        dx̃ = [dr_pre, du_pre, dn_pre]        dh̃ = [dr_pre, du_pre, dn_pre ⊙ r]
        dh = gh ⊙ u  (+ dh̃ W_hh, added by the caller)
    Returns (pieces of dx̃, pieces of dh̃, the direct part of dh).
    """
    dn = gh * (1 - u) * (1 - n * n)
    du = gh * (h_prev - n) * (u * (1 - u))
    dr = dn * hn * (r * (1 - r))
    return (dr, du, dn), (dr, du, dn * r), gh * u


def _gru_step_tangent(tx, thg, th_prev, r, u, n, hn, h_prev):
    """Forward mode through one GRU step: the tangent of h' from those of x̃, h̃ and h."""
    H = r.shape[-1]
    tr = r * (1 - r) * (tx[..., :H] + thg[..., :H])
    tu = u * (1 - u) * (tx[..., H : 2 * H] + thg[..., H : 2 * H])
    tn = (1 - n * n) * (tx[..., 2 * H :] + tr * hn + r * thg[..., 2 * H :])
    return tn + tu * (h_prev - n) + u * (th_prev - tn)


def _gru_forward_into(xg, hg, h, acts, out):
    """r, u, n into acts (N, 3H) and h' into out (N, H) from x̃, h̃ (N, 3H) and h (N, H)."""
    H = h.shape[-1]
    pre = xg[..., : 2 * H] + hg[..., : 2 * H]
    sigmoid_into(pre, acts[..., : 2 * H])
    r, u = acts[..., :H], acts[..., H : 2 * H]
    n = acts[..., 2 * H :]
    xp.multiply(r, hg[..., 2 * H :], out=n)
    n += xg[..., 2 * H :]
    xp.tanh(n, out=n)
    xp.subtract(h, n, out=out)
    out *= u
    out += n
    return r, u, n


def _gru_acts(m, xg, hg):
    H = hg.shape[-1] // 3
    r = sigmoid_of(m, xg[..., :H] + hg[..., :H])
    u = sigmoid_of(m, xg[..., H : 2 * H] + hg[..., H : 2 * H])
    n = tanh_of(m, xg[..., 2 * H :] + r * hg[..., 2 * H :])
    return r, u, n


class GRUCell(Op):
    """One GRU step. Inputs x̃ = x W_ihᵀ + b_ih (N, 3H), h̃ = h W_hhᵀ + b_hh (N, 3H) (gates r, z,
    n) and h (N, H); output h' (N, H). Forward saves r, z, n for the VJP."""

    name = "gru_cell"

    def forward(self, xg, hg, h):
        self.acts = xp.empty(xg.shape, dtype=xp.result_type(xg, hg))
        out = xp.empty(h.shape, dtype=xp.result_type(xg, hg, h))
        _gru_forward_into(xg, hg, h, self.acts, out)
        return out

    def vjp(self, m, g, xg, hg, h, y):
        H = h.shape[-1]
        if m is ArrayMath:
            a = self.acts
            r, u, n = a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]
        else:
            r, u, n = _gru_acts(m, xg, hg)
        dx, dhg, dh = _gru_step_back(g, r, u, n, hg[..., 2 * H :], h)
        return m.concatenate(dx, axis=-1), m.concatenate(dhg, axis=-1), dh

    def jvp(self, tx, thg, th, xg, hg, h, y):
        H = h.shape[-1]
        a = self.acts
        r, u, n = a[..., :H], a[..., H : 2 * H], a[..., 2 * H :]
        return _gru_step_tangent(tx, thg, th, r, u, n, hg[..., 2 * H :], h)


class GRULayer(Op):
    """A whole GRU layer (one direction) over a sequence.

    Inputs: xg (T, N, 3H) = x_t W_ihᵀ + b_ih (time-major), h0 (N, H), w_hh (3H, H), b_hh (3H,).
    Output (T, N, H): row t is h_t at time position t (``reverse`` as in ``LSTMLayer``).

    VJP: per step ``_gru_step_back`` and dh_{t-1} = dh̃_t W_hh + gh ⊙ z; after the loop
    dW_hh = Σ_t dh̃_tᵀ h_{t-1} (one GEMM) and db_hh = Σ_t Σ_n dh̃_t.
    """

    name = "gru_layer"

    def __init__(self, reverse: bool = False):
        self.reverse = reverse

    def forward(self, xg, h0, w, b):
        T, N, G = xg.shape
        H = G // 3
        dt = xp.result_type(xg, h0, w, b)
        y = xp.empty((T, N, H), dtype=dt)
        acts = xp.empty((T, N, G), dtype=dt)
        hns = xp.empty((T, N, H), dtype=dt)
        wt = w.T
        h = h0
        for t in time_order(T, self.reverse):
            hg = h @ wt
            hg += b
            hns[t] = hg[:, 2 * H :]
            _gru_forward_into(xg[t], hg, h, acts[t], y[t])
            h = y[t]
        self.acts, self.hns = acts, hns
        return y

    def _steps(self, m, xg, h0, w, b, y):
        """Per time position: (r, z, n, h̃_n, h_prev), saved or recomputed."""
        T = xg.shape[0]
        H = h0.shape[-1]
        steps = [None] * T
        if m is ArrayMath:
            prev = None
            for t in time_order(T, self.reverse):
                a = self.acts[t]
                h_prev = h0 if prev is None else y[prev]
                steps[t] = (a[:, :H], a[:, H : 2 * H], a[:, 2 * H :], self.hns[t], h_prev)
                prev = t
            return steps
        wt = m.swapaxes(w, 0, 1)
        h = h0
        for t in time_order(T, self.reverse):
            hg = m.matmul(h, wt) + b
            r, u, n = _gru_acts(m, xg[t], hg)
            steps[t] = (r, u, n, hg[:, 2 * H :], h)
            h = n + u * (h - n)
        return steps

    def vjp(self, m, gy, xg, h0, w, b, y):
        T = xg.shape[0]
        steps = self._steps(m, xg, h0, w, b, y)
        dx, dhg = [None] * T, [None] * T
        dh = None
        for t in reversed(time_order(T, self.reverse)):
            gh = gy[t] if dh is None else gy[t] + dh
            px, ph, direct = _gru_step_back(gh, *steps[t])
            dx[t] = m.concatenate(px, axis=-1)
            dhg[t] = m.concatenate(ph, axis=-1)
            dh = m.matmul(dhg[t], w) + direct
        dhg_all = stack_steps(m, dhg)
        dw = weight_grad(m, dhg_all, [s[4] for s in steps])
        return stack_steps(m, dx), dh, dw, dhg_all.sum(axis=(0, 1))

    def jvp(self, txg, th0, tw, tb, xg, h0, w, b, y):
        T = xg.shape[0]
        H = h0.shape[-1]
        ty = xp.empty_like(y)
        th, h = th0, h0
        for t in time_order(T, self.reverse):
            a = self.acts[t]
            thg = th @ w.T + h @ tw.T + tb
            th = _gru_step_tangent(
                txg[t], thg, th, a[:, :H], a[:, H : 2 * H], a[:, 2 * H :], self.hns[t], h
            )
            ty[t] = th
            h = y[t]
        return ty
