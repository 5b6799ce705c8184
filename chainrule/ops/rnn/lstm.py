"""The fused LSTM ops: one step (``LSTMCell``) and a whole sequence (``LSTMLayer``), gate order
(i, f, g, o) as in PyTorch (see ``chainrule.ops.rnn`` for the arithmetic and the two gradient paths)."""

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


def _lstm_acts_into(z, out):
    """(i, f, g, o) of gate pre-activations z (N, 4H) written into ``out`` (N, 4H)."""
    H = z.shape[-1] // 4
    sigmoid_into(z[..., : 2 * H], out[..., : 2 * H])
    xp.tanh(z[..., 2 * H : 3 * H], out=out[..., 2 * H : 3 * H])
    sigmoid_into(z[..., 3 * H :], out[..., 3 * H :])
    return out


def _split4(a):
    H = a.shape[-1] // 4
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H :]


def _lstm_acts(m, z):
    """(i, f, g, o) from z (N, 4H), differentiably when ``m`` is the Tensor namespace."""
    zi, zf, zg, zo = _split4(z)
    return sigmoid_of(m, zi), sigmoid_of(m, zf), tanh_of(m, zg), sigmoid_of(m, zo)


def _lstm_step_back(gh, gc, i, f, g, o, tc, c_prev):
    """One LSTM step backwards.

    Given dL/dh' (gh) and dL/dc' (gc, the part that does not go through h'), the activations
    and tc = tanh c': returns the four gate pieces of dL/dz (i, f, g, o) and dL/dc.

        dc' = gc + gh ⊙ o ⊙ (1 - tc²)
        dz_i = dc' ⊙ g ⊙ i(1 - i)      dz_f = dc' ⊙ c ⊙ f(1 - f)
        dz_g = dc' ⊙ i ⊙ (1 - g²)      dz_o = gh ⊙ tc ⊙ o(1 - o)      dc = dc' ⊙ f
    """
    dc = gc + gh * o * (1 - tc * tc)
    pieces = (
        dc * g * (i * (1 - i)),
        dc * c_prev * (f * (1 - f)),
        dc * i * (1 - g * g),
        gh * tc * (o * (1 - o)),
    )
    return pieces, dc * f


def _lstm_step_tangent(tz, tc_prev, i, f, g, o, tc, c_prev):
    """Forward mode through one LSTM step: the tangents of (h', c') from those of (z, c)."""
    tzi, tzf, tzg, tzo = _split4(tz)
    tcn = (f * (1 - f) * tzf) * c_prev + f * tc_prev + (i * (1 - i) * tzi) * g
    tcn = tcn + i * ((1 - g * g) * tzg)
    th = (o * (1 - o) * tzo) * tc + o * (1 - tc * tc) * tcn
    return th, tcn


class LSTMCell(Op):
    """One LSTM step from its gate pre-activations.

    Inputs z (N, 4H) = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (gates i, f, g, o) and c (N, H).
    Output (2, N, H): [h', c']. Forward saves the activations (N, 4H) and tanh c' for the VJP.
    """

    name = "lstm_cell"

    def forward(self, z, c):
        acts = _lstm_acts_into(z, xp.empty_like(z))
        i, f, g, o = _split4(acts)
        y = xp.empty((2, *c.shape), dtype=xp.result_type(z, c))
        cn = y[1]
        xp.multiply(f, c, out=cn)
        cn += i * g
        tc = xp.tanh(cn)
        xp.multiply(o, tc, out=y[0])
        self.acts, self.tc = acts, tc
        return y

    def _saved(self, m, z, c):
        if m is ArrayMath:
            return (*_split4(self.acts), self.tc)
        i, f, g, o = _lstm_acts(m, z)
        return i, f, g, o, tanh_of(m, f * c + i * g)

    def vjp(self, m, g, z, c, y):
        i, f, gg, o, tc = self._saved(m, z, c)
        pieces, dc = _lstm_step_back(g[0], g[1], i, f, gg, o, tc, c)
        return m.concatenate(pieces, axis=-1), dc

    def jvp(self, tz, tc, z, c, y):
        th, tcn = _lstm_step_tangent(tz, tc, *_split4(self.acts), self.tc, c)
        return xp.stack([th, tcn])


class LSTMLayer(Op):
    """A whole LSTM layer (one direction) over a sequence.

    Inputs: xg (T, N, 4H) = x_t W_ihᵀ + b_ih + b_hh for every step (time-major), h0 and c0
    (N, H), w_hh (4H, H). Output (T + 1, N, H): row t is the hidden state h_t at time position t,
    and row T is the final cell state. With ``reverse=True`` the sequence is read from t = T - 1
    down to 0 (the second direction of a bidirectional layer); h_t is still stored at row t, so
    the final hidden state is then row 0.

    VJP (backpropagation through time): per step, dz_t from ``_lstm_step_back`` and
    dh_{t-1} = dz_t W_hh; after the loop, dW_hh = Σ_t dz_tᵀ h_{t-1} as one GEMM over all T·N rows,
    and d(xg) = dz. The first-order path (``_vjp_arrays``) does the same arithmetic in place on
    the saved activations; the create_graph path recomputes them (``_steps``) and runs
    ``_lstm_step_back`` on Tensors.
    """

    name = "lstm_layer"

    def __init__(self, reverse: bool = False):
        self.reverse = reverse

    def forward(self, xg, h0, c0, w):
        T, N, G = xg.shape
        H = G // 4
        dt = xp.result_type(xg, h0, c0, w)
        y = xp.empty((T + 1, N, H), dtype=dt)
        acts = xp.empty((T, N, G), dtype=dt)
        cs = xp.empty((T, N, H), dtype=dt)
        tcs = xp.empty((T, N, H), dtype=dt)
        wt = w.T
        z = xp.empty((N, G), dtype=dt)
        h, c = h0, c0
        for t in time_order(T, self.reverse):
            xp.matmul(h, wt, out=z)
            z += xg[t]
            i, f, g, o = _split4(_lstm_acts_into(z, acts[t]))
            cn = cs[t]
            xp.multiply(f, c, out=cn)
            cn += i * g
            xp.tanh(cn, out=tcs[t])
            xp.multiply(o, tcs[t], out=y[t])
            h, c = y[t], cn
        y[T] = c
        self.acts, self.cs, self.tcs = acts, cs, tcs
        return y

    def _steps(self, m, xg, h0, c0, w):
        """Per time position t: (i, f, g, o, tanh c_t, c_prev, h_prev), recomputed from the
        inputs with differentiable ops (the create_graph path)."""
        T = xg.shape[0]
        steps = [None] * T
        wt = m.swapaxes(w, 0, 1)
        h, c = h0, c0
        for t in time_order(T, self.reverse):
            i, f, g, o = _lstm_acts(m, xg[t] + m.matmul(h, wt))
            cn = f * c + i * g
            tc = tanh_of(m, cn)
            steps[t] = (i, f, g, o, tc, c, h)
            h, c = o * tc, cn
        return steps

    def vjp(self, m, gy, xg, h0, c0, w, y):
        if m is ArrayMath:
            return self._vjp_arrays(gy, h0, c0, w, y)
        T = xg.shape[0]
        steps = self._steps(m, xg, h0, c0, w)
        dz = [None] * T
        dh, dc = None, gy[T]
        for t in reversed(time_order(T, self.reverse)):
            gh = gy[t] if dh is None else gy[t] + dh
            pieces, dc = _lstm_step_back(gh, dc, *steps[t][:6])
            dz[t] = m.concatenate(pieces, axis=-1)
            dh = m.matmul(dz[t], w)
        dz_all = stack_steps(m, dz)
        return dz_all, dh, dc, weight_grad(m, dz_all, [s[6] for s in steps])

    def _vjp_arrays(self, gy, h0, c0, w, y):
        """The first-order VJP in place: the same arithmetic as ``_lstm_step_back``, written
        into one preallocated dz (T, N, 4H) without per-step temporaries, and dW_hh from views
        of the saved outputs (no stacked copy of the h_{t-1})."""
        T, N, H = self.cs.shape
        order = list(time_order(T, self.reverse))
        dz = xp.empty(self.acts.shape, dtype=self.acts.dtype)
        dc = gy[T].copy()  # dL/dc of the step being undone (the part not through h)
        gh = xp.empty((N, H), dtype=dz.dtype)
        tmp = xp.empty_like(gh)
        dh = None
        for k in range(T - 1, -1, -1):
            t = order[k]
            c_prev = c0 if k == 0 else self.cs[order[k - 1]]
            i, f, g, o = _split4(self.acts[t])
            dzi, dzf, dzg, dzo = _split4(dz[t])
            tc = self.tcs[t]
            if dh is None:
                gh[...] = gy[t]
            else:
                xp.add(gy[t], dh, out=gh)
            xp.multiply(tc, tc, out=tmp)  # dc' = gc + gh ⊙ o ⊙ (1 - tc²)
            xp.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= gh
            dc += tmp
            xp.subtract(1, o, out=dzo)  # dz_o = gh ⊙ tc ⊙ o(1 - o)
            dzo *= o
            dzo *= tc
            dzo *= gh
            xp.subtract(1, i, out=dzi)  # dz_i = dc' ⊙ g ⊙ i(1 - i)
            dzi *= i
            dzi *= g
            dzi *= dc
            xp.subtract(1, f, out=dzf)  # dz_f = dc' ⊙ c ⊙ f(1 - f)
            dzf *= f
            dzf *= c_prev
            dzf *= dc
            xp.multiply(g, g, out=dzg)  # dz_g = dc' ⊙ i ⊙ (1 - g²)
            xp.subtract(1, dzg, out=dzg)
            dzg *= i
            dzg *= dc
            dc *= f
            dh = dz[t] @ w
        # dW = Σ_t dz_tᵀ h_{t-1}: h_{t-1} is y at the previous position, h0 for the first step.
        first = order[0]
        rest = slice(1, T) if not self.reverse else slice(0, T - 1)
        prev = slice(0, T - 1) if not self.reverse else slice(1, T)
        dw = dz[first].T @ h0
        if T > 1:
            dw += dz[rest].reshape(-1, 4 * H).T @ y[prev].reshape(-1, H)
        return dz, dh, dc, dw

    def jvp(self, txg, th0, tc0, tw, xg, h0, c0, w, y):
        T = xg.shape[0]
        ty = xp.empty_like(y)
        th, tc = th0, tc0
        h, c = h0, c0
        for t in time_order(T, self.reverse):
            tz = txg[t] + th @ w.T + h @ tw.T
            th, tc = _lstm_step_tangent(tz, tc, *_split4(self.acts[t]), self.tcs[t], c)
            ty[t] = th
            h, c = y[t], self.cs[t]
        ty[T] = tc
        return ty
