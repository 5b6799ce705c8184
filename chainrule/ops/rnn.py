"""Fused recurrent ops: the gate arithmetic of LSTM, GRU and Elman cells, for one step or for a
whole sequence.

Composed of primitives, one LSTM step is about fifteen ops (four gate slices, three sigmoids, two
tanh, products and sums), each with its graph node and temporaries; and a sequence layer that
slices x_t out of a precomputed (T, N, 4H) input projection pays, in backward, a full-size zero
gradient per slice (T² work). These ops do the arithmetic in one place:

* ``LSTMCell``: (z, c) → [h', c'] for one step, from the gate pre-activations
  z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (the GEMMs stay ordinary matmul ops outside);
* ``GRUCell``: (x̃, h̃, h) → h' from x̃ = x W_ihᵀ + b_ih and h̃ = h W_hhᵀ + b_hh;
* ``LSTMLayer``, ``GRULayer``, ``RNNLayer``: a whole sequence, given the input projection of every
  step (one big GEMM, done outside) and the recurrent weight. The loop over time and
  backpropagation through time run inside: one GEMM per step each way, and the recurrent
  weight's gradient as one GEMM over all steps at the end.

Gate orders are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

LSTM, with σ the logistic function and ⊙ the elementwise product:
    i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh z_g;  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh c'
GRU:
    r = σ(x̃_r + h̃_r);  u = σ(x̃_z + h̃_z);  n = tanh(x̃_n + r ⊙ h̃_n);  h' = (1 - u) ⊙ n + u ⊙ h
Elman RNN:
    h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

Gradients have two paths, like ``BatchNormTrain``'s. The first-order path reuses the activations
that forward saved on the op. When the backward pass is recorded (``create_graph=True``, ``m`` is
the Tensor namespace) the activations are recomputed from the inputs with differentiable ops
(sigmoid and tanh through ``m.apply``) and the same backward arithmetic, written with operators and
``m.*`` only, runs on Tensors, so gradients of gradients are right.
"""

from __future__ import annotations

from chainrule.backend import ArrayMath, xp
from chainrule.ops.base import Op
from chainrule.ops.elementwise import Relu, Sigmoid, Tanh


# ----- activations -----
def _sigmoid_into(x, out):
    """σ(x) = (1 + tanh(x / 2)) / 2 written into ``out``: tanh cannot overflow, so unlike
    1 / (1 + e^-x) it needs no branch on the sign of x, and it runs in four in-place passes."""
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _sig(m, x):
    # A fresh op each call: a recorded op keeps its inputs, so instances cannot be shared.
    return m.apply(Sigmoid(), x)


def _tanh(m, x):
    return m.apply(Tanh(), x)


def _time_order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


# ----- LSTM -----
def _lstm_acts_into(z, out):
    """(i, f, g, o) of gate pre-activations z (N, 4H) written into ``out`` (N, 4H)."""
    H = z.shape[-1] // 4
    _sigmoid_into(z[..., : 2 * H], out[..., : 2 * H])
    xp.tanh(z[..., 2 * H : 3 * H], out=out[..., 2 * H : 3 * H])
    _sigmoid_into(z[..., 3 * H :], out[..., 3 * H :])
    return out


def _split4(a):
    H = a.shape[-1] // 4
    return a[..., :H], a[..., H : 2 * H], a[..., 2 * H : 3 * H], a[..., 3 * H :]


def _lstm_acts(m, z):
    """(i, f, g, o) from z (N, 4H), differentiably when ``m`` is the Tensor namespace."""
    zi, zf, zg, zo = _split4(z)
    return _sig(m, zi), _sig(m, zf), _tanh(m, zg), _sig(m, zo)


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
        return i, f, g, o, _tanh(m, f * c + i * g)

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
        for t in _time_order(T, self.reverse):
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
        for t in _time_order(T, self.reverse):
            i, f, g, o = _lstm_acts(m, xg[t] + m.matmul(h, wt))
            cn = f * c + i * g
            tc = _tanh(m, cn)
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
        for t in reversed(_time_order(T, self.reverse)):
            gh = gy[t] if dh is None else gy[t] + dh
            pieces, dc = _lstm_step_back(gh, dc, *steps[t][:6])
            dz[t] = m.concatenate(pieces, axis=-1)
            dh = m.matmul(dz[t], w)
        dz_all = _stack(m, dz)
        return dz_all, dh, dc, _weight_grad(m, dz_all, [s[6] for s in steps])

    def _vjp_arrays(self, gy, h0, c0, w, y):
        """The first-order VJP in place: the same arithmetic as ``_lstm_step_back``, written
        into one preallocated dz (T, N, 4H) without per-step temporaries, and dW_hh from views
        of the saved outputs (no stacked copy of the h_{t-1})."""
        T, N, H = self.cs.shape
        order = list(_time_order(T, self.reverse))
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
        for t in _time_order(T, self.reverse):
            tz = txg[t] + th @ w.T + h @ tw.T
            th, tc = _lstm_step_tangent(tz, tc, *_split4(self.acts[t]), self.tcs[t], c)
            ty[t] = th
            h, c = y[t], self.cs[t]
        ty[T] = tc
        return ty


# ----- GRU -----
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
    _sigmoid_into(pre, acts[..., : 2 * H])
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
    r = _sig(m, xg[..., :H] + hg[..., :H])
    u = _sig(m, xg[..., H : 2 * H] + hg[..., H : 2 * H])
    n = _tanh(m, xg[..., 2 * H :] + r * hg[..., 2 * H :])
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
        for t in _time_order(T, self.reverse):
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
            for t in _time_order(T, self.reverse):
                a = self.acts[t]
                h_prev = h0 if prev is None else y[prev]
                steps[t] = (a[:, :H], a[:, H : 2 * H], a[:, 2 * H :], self.hns[t], h_prev)
                prev = t
            return steps
        wt = m.swapaxes(w, 0, 1)
        h = h0
        for t in _time_order(T, self.reverse):
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
        for t in reversed(_time_order(T, self.reverse)):
            gh = gy[t] if dh is None else gy[t] + dh
            px, ph, direct = _gru_step_back(gh, *steps[t])
            dx[t] = m.concatenate(px, axis=-1)
            dhg[t] = m.concatenate(ph, axis=-1)
            dh = m.matmul(dhg[t], w) + direct
        dhg_all = _stack(m, dhg)
        dw = _weight_grad(m, dhg_all, [s[4] for s in steps])
        return _stack(m, dx), dh, dw, dhg_all.sum(axis=(0, 1))

    def jvp(self, txg, th0, tw, tb, xg, h0, w, b, y):
        T = xg.shape[0]
        H = h0.shape[-1]
        ty = xp.empty_like(y)
        th, h = th0, h0
        for t in _time_order(T, self.reverse):
            a = self.acts[t]
            thg = th @ w.T + h @ tw.T + tb
            th = _gru_step_tangent(
                txg[t], thg, th, a[:, :H], a[:, H : 2 * H], a[:, 2 * H :], self.hns[t], h
            )
            ty[t] = th
            h = y[t]
        return ty


# ----- Elman RNN -----
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
        for t in _time_order(T, self.reverse):
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
        return _tanh(m, a) if self.nonlinearity == "tanh" else m.apply(Relu(), a)

    def _back(self, m, g, h):
        if self.nonlinearity == "tanh":
            return g * (1 - h * h)
        return m.where(h > 0, g, 0)

    def vjp(self, m, gy, xg, h0, w, y):
        T = xg.shape[0]
        order = _time_order(T, self.reverse)
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
        da_all = _stack(m, da)
        return da_all, dh, _weight_grad(m, da_all, prevs)

    def jvp(self, txg, th0, tw, xg, h0, w, y):
        T = xg.shape[0]
        ty = xp.empty_like(y)
        th, h = th0, h0
        for t in _time_order(T, self.reverse):
            ta = txg[t] + th @ w.T + h @ tw.T
            h = y[t]
            th = ta * (1 - h * h) if self.nonlinearity == "tanh" else xp.where(h > 0, ta, 0)
            ty[t] = th
        return ty


# ----- shared by the layer VJPs -----
def _stack(m, pieces):
    """Per-step (N, D) pieces, in time order, as one (T, N, D) array or Tensor."""
    n, d = pieces[0].shape
    return m.concatenate([p.reshape((1, n, d)) for p in pieces], axis=0)


def _weight_grad(m, dz, h_prev):
    """dW = Σ_t dz_tᵀ h_{t-1} as one GEMM over all steps, from dz (T, N, G) and the per-step
    h_{t-1} (N, H): (T·N, G)ᵀ (T·N, H) → (G, H)."""
    T, n, g = dz.shape
    hs = _stack(m, h_prev).reshape((T * n, h_prev[0].shape[-1]))
    return m.matmul(m.swapaxes(dz.reshape((T * n, g)), 0, 1), hs)
