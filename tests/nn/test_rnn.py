"""Recurrent layers, cells, their fused ops and Embedding: PyTorch as the oracle (copied weights,
float64, random upstream gradients on every output), gradcheck of each fused op to second order,
forward mode against reverse mode, and the errors users meet."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd.tensor import apply
from chainrule.ops import rnn as R
from chainrule.ops.embedding import scatter_rows

torch = pytest.importorskip("torch")

ATOL = 1e-11


def _copy(ours: nn.Module, theirs) -> None:
    """Copies PyTorch's weights into ours, after checking that the names and order agree."""
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.shape == tuple(q.shape)
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _close(ours, theirs, atol: float = ATOL) -> None:
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=atol)


def _backward_both(rng, pairs) -> None:
    """Backpropagates sum(out · u) with the same random u through each (ours, theirs) pair."""
    loss, loss_t = 0.0, 0.0
    for a, b in pairs:
        u = rng.standard_normal(a.shape)
        loss = loss + (a * cr.tensor(u)).sum()
        loss_t = loss_t + (b * torch.tensor(u)).sum()
    loss.backward()
    loss_t.backward()


def _check_param_grads(ours, theirs) -> None:
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.grad is not None, name
        np.testing.assert_allclose(
            p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=ATOL, err_msg=name
        )


# ----- sequence layers against PyTorch -----
LAYER_CASES = [
    # kind, kwargs, initial states given
    ("LSTM", {}, False),
    ("LSTM", {"num_layers": 2}, True),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": False}, True),
    ("LSTM", {"bias": False, "bidirectional": True}, False),
    ("GRU", {}, False),
    ("GRU", {"num_layers": 2}, True),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": False}, True),
    ("GRU", {"bias": False}, True),
    ("RNN", {}, False),
    ("RNN", {"num_layers": 2, "nonlinearity": "relu"}, True),
    ("RNN", {"bidirectional": True, "batch_first": False}, True),
]


@pytest.mark.parametrize(("kind", "kwargs", "with_states"), LAYER_CASES)
def test_layer_matches_torch(float64, rng, kind, kwargs, with_states):
    D, H, N, T = 3, 4, 2, 5
    theirs = getattr(torch.nn, kind)(D, H, **kwargs).double()
    ours = getattr(nn, kind)(D, H, **kwargs)
    _copy(ours, theirs)
    batch_first = kwargs.get("batch_first", False)
    x = rng.standard_normal((N, T, D) if batch_first else (T, N, D))
    k = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    xs, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    states = [rng.standard_normal((k, N, H)) for _ in range(2 if kind == "LSTM" else 1)]
    ss = [cr.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    if kind == "LSTM":
        out, (h, c) = ours(xs, tuple(ss) if with_states else None)
        out_t, (h_t, c_t) = theirs(xt, tuple(st) if with_states else None)
        pairs = [(out, out_t), (h, h_t), (c, c_t)]
    else:
        out, h = ours(xs, ss[0] if with_states else None)
        out_t, h_t = theirs(xt, st[0] if with_states else None)
        pairs = [(out, out_t), (h, h_t)]
    for a, b in pairs:
        assert a.shape == tuple(b.shape)
        _close(a, b)
    _backward_both(rng, pairs)
    _close(xs.grad, xt.grad)
    if with_states:
        for a, b in zip(ss, st):
            _close(a.grad, b.grad)
    _check_param_grads(ours, theirs)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_unbatched_layer_matches_torch(float64, rng, kind):
    """(T, D) input and (L, H) states, as PyTorch's unbatched call."""
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2).double()
    ours = getattr(nn, kind)(3, 4, num_layers=2)
    _copy(ours, theirs)
    x = rng.standard_normal((6, 3))
    h0 = rng.standard_normal((2, 4))
    xs, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hs, ht = cr.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    if kind == "LSTM":
        out, (h, c) = ours(xs, (hs, cr.tensor(h0)))
        out_t, (h_t, c_t) = theirs(xt, (ht, torch.tensor(h0)))
        pairs = [(out, out_t), (h, h_t), (c, c_t)]
    else:
        out, h = ours(xs, hs)
        out_t, h_t = theirs(xt, ht)
        pairs = [(out, out_t), (h, h_t)]
    for a, b in pairs:
        assert a.shape == tuple(b.shape)
        _close(a, b)
    _backward_both(rng, pairs)
    _close(xs.grad, xt.grad)
    _close(hs.grad, ht.grad)
    _check_param_grads(ours, theirs)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_one_step_sequence_matches_torch(float64, rng, kind):
    """T = 1, both directions: the first step is also the last."""
    theirs = getattr(torch.nn, kind)(3, 4, bidirectional=True, batch_first=True).double()
    ours = getattr(nn, kind)(3, 4, bidirectional=True, batch_first=True)
    _copy(ours, theirs)
    x = rng.standard_normal((2, 1, 3))
    xs, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, h = ours(xs)
    out_t, h_t = theirs(xt)
    pairs = [(out, out_t), *zip(h, h_t)] if kind == "LSTM" else [(out, out_t), (h, h_t)]
    for a, b in pairs:
        _close(a, b)
    _backward_both(rng, pairs)
    _close(xs.grad, xt.grad)
    _check_param_grads(ours, theirs)


def test_layer_parameters_are_named_shaped_and_initialised_as_torch():
    lstm = nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    t = torch.nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    assert [(k, p.shape) for k, p in lstm.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in t.named_parameters()
    ]
    assert lstm.weight_ih_l1_reverse.shape == (32, 16)  # layer 2 reads both directions
    bound = 1 / np.sqrt(8)
    for _, p in lstm.named_parameters():
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= bound
        assert p.numpy().std() > bound / 3  # drawn, not constant
    assert [(k, p.shape) for k, p in nn.GRUCell(3, 4, bias=False).named_parameters()] == [
        ("weight_ih", (12, 3)),
        ("weight_hh", (12, 4)),
    ]
    assert len(lstm.all_weights) == 4 and len(lstm.all_weights[0]) == 4


def test_state_dict_moves_from_torch_and_back(float64, rng):
    t = torch.nn.GRU(3, 4, num_layers=2).double()
    ours = nn.GRU(3, 4, num_layers=2, batch_first=False)
    _copy(ours, t)
    back = torch.nn.GRU(3, 4, num_layers=2).double()
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = torch.tensor(rng.standard_normal((5, 2, 3)))
    torch.testing.assert_close(back(x)[0], t(x)[0])


def test_dropout_between_layers_only_in_training(float64, rng):
    ours = nn.LSTM(3, 4, num_layers=2, dropout=0.5, batch_first=True)
    x = cr.tensor(rng.standard_normal((2, 5, 3)))
    cr.manual_seed(0)
    a, _ = ours(x)
    ours.eval()
    b, _ = ours(x)
    c, _ = ours(x)
    assert not np.allclose(a.numpy(), b.numpy())
    np.testing.assert_array_equal(b.numpy(), c.numpy())
    theirs = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5, batch_first=True).double().eval()
    _copy(ours, theirs)
    _close(ours(x)[0], theirs(torch.tensor(x.numpy()))[0])


def test_float32_layer_keeps_float32(rng):
    lstm = nn.LSTM(3, 4)
    x = cr.tensor(rng.standard_normal((2, 5, 3)).astype(np.float32), requires_grad=True)
    out, (h, c) = lstm(x)
    assert out.dtype == h.dtype == c.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and lstm.weight_hh_l0.grad.dtype == np.float32


def test_long_sequence_runs(rng):
    """A 300-step sequence: the loop lives inside one op, so there is no deep graph."""
    gru = nn.GRU(2, 3, batch_first=True)
    out, h = gru(cr.tensor(rng.standard_normal((1, 300, 2)).astype(np.float32)))
    out.sum().backward()
    assert np.isfinite(gru.weight_hh_l0.grad.numpy()).all()
    np.testing.assert_array_equal(out.numpy()[:, -1], h.numpy()[0])


# ----- cells against PyTorch -----
CELL_CASES = [
    ("RNNCell", {}),
    ("RNNCell", {"nonlinearity": "relu"}),
    ("RNNCell", {"bias": False}),
    ("LSTMCell", {}),
    ("LSTMCell", {"bias": False}),
    ("GRUCell", {}),
    ("GRUCell", {"bias": False}),
]


@pytest.mark.parametrize(("kind", "kwargs"), CELL_CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_loop_matches_torch(float64, rng, kind, kwargs, with_state):
    """Three steps of a cell, the state carried over, against PyTorch: outputs and gradients
    for the inputs, the initial state and every parameter."""
    theirs = getattr(torch.nn, kind)(3, 4, **kwargs).double()
    ours = getattr(nn, kind)(3, 4, **kwargs)
    _copy(ours, theirs)
    lstm = kind == "LSTMCell"
    xs = [rng.standard_normal((2, 3)) for _ in range(3)]
    xo = [cr.tensor(x, requires_grad=True) for x in xs]
    xt = [torch.tensor(x, requires_grad=True) for x in xs]
    init = [rng.standard_normal((2, 4)) for _ in range(2 if lstm else 1)]
    so = [cr.tensor(s, requires_grad=True) for s in init]
    st = [torch.tensor(s, requires_grad=True) for s in init]
    ho = (tuple(so) if lstm else so[0]) if with_state else None
    ht = (tuple(st) if lstm else st[0]) if with_state else None
    pairs = []
    for a, b in zip(xo, xt):
        ho, ht = ours(a, ho), theirs(b, ht)
        pairs += list(zip(ho, ht)) if lstm else [(ho, ht)]
    for a, b in pairs:
        _close(a, b)
    _backward_both(rng, pairs)
    for a, b in zip(xo, xt):
        _close(a.grad, b.grad)
    if with_state:
        for a, b in zip(so, st):
            _close(a.grad, b.grad)
    _check_param_grads(ours, theirs)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_unbatched_cell_matches_torch(float64, rng, kind):
    theirs = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(nn, kind)(3, 4)
    _copy(ours, theirs)
    x = rng.standard_normal(3)
    h = rng.standard_normal(4)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if kind == "LSTMCell":
        out, out_t = ours(xo, (cr.tensor(h), cr.tensor(h))), theirs(xt, (torch.tensor(h),) * 2)
        pairs = list(zip(out, out_t))
    else:
        pairs = [(ours(xo, cr.tensor(h)), theirs(xt, torch.tensor(h)))]
    for a, b in pairs:
        assert a.shape == (4,)
        _close(a, b)
    _backward_both(rng, pairs)
    _close(xo.grad, xt.grad)


# ----- the fused ops: gradcheck to second order, forward mode -----
T_, N_, H_ = 3, 2, 2


def _fused_cases(rng):
    def t(*shape):
        return cr.tensor(rng.standard_normal(shape), requires_grad=True)

    return {
        "lstm_cell": (lambda z, c: apply(R.LSTMCell(), z, c), [t(N_, 4 * H_), t(N_, H_)]),
        "gru_cell": (
            lambda a, b, h: apply(R.GRUCell(), a, b, h),
            [t(N_, 3 * H_), t(N_, 3 * H_), t(N_, H_)],
        ),
        "lstm_layer": (
            lambda x, h, c, w: apply(R.LSTMLayer(False), x, h, c, w),
            [t(T_, N_, 4 * H_), t(N_, H_), t(N_, H_), t(4 * H_, H_)],
        ),
        "lstm_layer_reverse": (
            lambda x, h, c, w: apply(R.LSTMLayer(True), x, h, c, w),
            [t(T_, N_, 4 * H_), t(N_, H_), t(N_, H_), t(4 * H_, H_)],
        ),
        "gru_layer": (
            lambda x, h, w, b: apply(R.GRULayer(False), x, h, w, b),
            [t(T_, N_, 3 * H_), t(N_, H_), t(3 * H_, H_), t(3 * H_)],
        ),
        "gru_layer_reverse": (
            lambda x, h, w, b: apply(R.GRULayer(True), x, h, w, b),
            [t(T_, N_, 3 * H_), t(N_, H_), t(3 * H_, H_), t(3 * H_)],
        ),
        "rnn_tanh_layer": (
            lambda x, h, w: apply(R.RNNLayer("tanh", False), x, h, w),
            [t(T_, N_, H_), t(N_, H_), t(H_, H_)],
        ),
        "rnn_relu_layer_reverse": (
            lambda x, h, w: apply(R.RNNLayer("relu", True), x, h, w),
            [t(T_, N_, H_), t(N_, H_), t(H_, H_)],
        ),
    }


FUSED = list(_fused_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("name", FUSED)
def test_fused_op_gradcheck(float64, rng, name):
    fn, xs = _fused_cases(rng)[name]
    assert cr.gradcheck(fn, xs)


@pytest.mark.parametrize("name", FUSED)
def test_fused_op_second_order(float64, rng, name):
    """The create_graph path recomputes the activations differentiably: gradcheck the gradient."""
    fn, xs = _fused_cases(rng)[name]
    u = cr.tensor(rng.standard_normal(fn(*xs).shape))

    def grads(*ins):
        return cr.grad((fn(*ins) * u).sum(), list(ins), create_graph=True)

    # The recomputed first-order gradient equals the fast path's.
    fast = cr.grad((fn(*xs) * u).sum(), xs)
    for a, b in zip(grads(*xs), fast):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    assert cr.gradcheck(grads, xs)


@pytest.mark.parametrize("name", FUSED)
def test_fused_op_jvp_agrees_with_vjp(float64, rng, name):
    """uᵀ (J v) from forward mode equals (Jᵀ u)ᵀ v from reverse mode."""
    fn, xs = _fused_cases(rng)[name]
    u = rng.standard_normal(fn(*xs).shape)
    vs = [rng.standard_normal(x.shape) for x in xs]
    _, jv = cr.jvp(fn, tuple(cr.tensor(x.numpy()) for x in xs), tuple(cr.tensor(v) for v in vs))
    gs = cr.grad((fn(*xs) * cr.tensor(u)).sum(), xs)
    lhs = float((jv.numpy() * u).sum())
    rhs = sum(float((g.numpy() * v).sum()) for g, v in zip(gs, vs))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_lstm_layer_second_derivatives_match_torch(float64, rng):
    """A gradient penalty through a whole LSTM layer, against PyTorch's double backward."""
    theirs = torch.nn.LSTM(2, 3, batch_first=True).double()
    ours = nn.LSTM(2, 3, batch_first=True)
    _copy(ours, theirs)
    x = rng.standard_normal((2, 4, 2))
    xs, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gx,) = cr.grad(ours(xs)[0].sum(), [xs], create_graph=True)
    (gxt,) = torch.autograd.grad(theirs(xt)[0].sum(), [xt], create_graph=True)
    _close(gx, gxt)
    (gx * gx).sum().backward()
    (gxt * gxt).sum().backward()
    _close(xs.grad, xt.grad)
    _check_param_grads(ours, theirs)


# ----- errors -----
def test_layer_errors_name_the_layer_and_shapes(rng):
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    with pytest.raises(cr.ShapeError, match=r"LSTM: input has 5 features but input_size is 3"):
        lstm(cr.randn(2, 6, 5))
    with pytest.raises(cr.ShapeError, match=r"LSTM: expected input of shape \(N, T, D\)"):
        lstm(cr.randn(2, 3, 6, 3))
    with pytest.raises(cr.ShapeError, match=r"expected initial state of shape \(2, 2, 4\)"):
        lstm(cr.randn(2, 6, 3), (cr.zeros(1, 2, 4), cr.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="hx must be a tuple"):
        lstm(cr.randn(2, 6, 3), (cr.zeros(2, 2, 4),))
    with pytest.raises(TypeError, match="does not match weight dtype float32"):
        lstm(cr.tensor(rng.standard_normal((2, 6, 3))))
    with pytest.raises(TypeError, match=r"nn\.Embedding first"):
        lstm(cr.tensor(np.ones((2, 6, 3), dtype=np.int64)))
    with pytest.raises(cr.ShapeError, match="sequence is empty"):
        lstm(cr.zeros(2, 0, 3))
    with pytest.raises(ValueError, match="proj_size=2 is not supported"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="dropout should be a number in"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.warns(UserWarning, match="num_layers=1 does nothing"):
        nn.GRU(3, 4, dropout=0.2)


def test_cell_errors(rng):
    cell = nn.LSTMCell(3, 4)
    with pytest.raises(cr.ShapeError, match=r"LSTMCell: expected input of shape \(N, 3\)"):
        cell(cr.randn(2, 5))
    with pytest.raises(cr.ShapeError, match=r"expected hidden state of shape \(2, 4\)"):
        cell(cr.randn(2, 3), (cr.zeros(3, 4), cr.zeros(3, 4)))
    with pytest.raises(cr.ShapeError, match=r"GRUCell: expected input of shape"):
        nn.GRUCell(3, 4)(cr.randn(1, 2, 3))


# ----- Embedding -----
def test_embedding_matches_torch_with_repeats_and_padding(float64, rng):
    theirs = torch.nn.Embedding(7, 5, padding_idx=2).double()
    ours = nn.Embedding(7, 5, padding_idx=2)
    _copy(ours, theirs)
    idx = np.array([[1, 2, 1, 6], [2, 2, 0, 1], [6, 6, 6, 3]])
    y, yt = ours(cr.tensor(idx)), theirs(torch.tensor(idx))
    _close(y, yt)
    _backward_both(rng, [(y, yt)])
    _close(ours.weight.grad, theirs.weight.grad)
    assert np.all(ours.weight.grad.numpy()[2] == 0)


def test_embedding_init_and_from_pretrained():
    e = nn.Embedding(50, 8, padding_idx=-1)
    assert e.padding_idx == 49 and np.all(e.weight.numpy()[49] == 0)
    w = e.weight.numpy()[:49]
    assert abs(w.mean()) < 0.2 and 0.8 < w.std() < 1.2  # N(0, 1), as PyTorch
    table = np.arange(12.0).reshape(4, 3)
    fixed = nn.Embedding.from_pretrained(table)
    assert not fixed.weight.requires_grad
    np.testing.assert_array_equal(fixed(cr.tensor([3, 0])).numpy(), table[[3, 0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_embedding_options_match_torch(float64, rng):
    """scale_grad_by_freq and max_norm, against PyTorch."""
    w = rng.standard_normal((6, 4)) * 2
    idx = np.array([[0, 1, 1, 5], [1, 5, 3, 3]])
    u = rng.standard_normal((2, 4, 4))
    ws, wt = cr.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    y = F.embedding(cr.tensor(idx), ws, scale_grad_by_freq=True)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, scale_grad_by_freq=True)
    (y * cr.tensor(u)).sum().backward()
    (yt * torch.tensor(u)).sum().backward()
    _close(ws.grad, wt.grad)
    table, table_t = cr.tensor(w.copy()), torch.tensor(w.copy())
    y = F.embedding(cr.tensor(idx), table, max_norm=1.5)
    with torch.no_grad():
        yt = torch.nn.functional.embedding(torch.tensor(idx), table_t, max_norm=1.5)
    _close(y, yt)
    _close(table, table_t)  # the rows looked up were renormalised in place
    assert not np.allclose(table.numpy(), w)


def test_embedding_scatter_and_second_order(float64, rng):
    idx = rng.integers(0, 5, size=(4, 6))
    g = rng.standard_normal((4, 6, 3))
    expect = np.zeros((5, 3))
    np.add.at(expect, idx, g)
    np.testing.assert_allclose(scatter_rows(g, idx, 5), expect, atol=1e-12)
    w = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    u = cr.tensor(rng.standard_normal((4, 6, 3)))

    def grads(w):
        (gw,) = cr.grad((F.embedding(idx, w) ** 2 * u).sum(), [w], create_graph=True)
        return gw

    assert cr.gradcheck(lambda w: F.embedding(idx, w), [w])
    assert cr.gradcheck(grads, [w])


def test_embedding_errors():
    e = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"index 5 is out of range for a table of 5 rows"):
        e(cr.tensor([[1, 5]]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        e(np.array([-1]))
    with pytest.raises(TypeError, match="indices must be integers, got float"):
        e(cr.tensor([0.5]))
    with pytest.raises(ValueError, match="padding_idx must be within"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        nn.Embedding(5, 3, sparse=True)
