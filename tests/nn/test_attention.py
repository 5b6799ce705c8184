"""Attention: MultiheadAttention and scaled dot-product attention against PyTorch (copied weights,
float64, outputs, weights and every gradient), additive attention against a PyTorch reference
written out by hand, gradcheck of its fused ops to second order, masks and errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd.tensor import apply
from chainrule.ops.attention import AdditiveScore, WeightedSum

torch = pytest.importorskip("torch")

ATOL = 1e-11


def _close(ours, theirs, atol: float = ATOL) -> None:
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=atol)


def _copy(ours, theirs) -> None:
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


# ----- MultiheadAttention against PyTorch -----
# kwargs, query length L, key length S, self-attention, key padding mask, attn mask kind,
# average weights, batched
MHA_CASES = [
    ({}, 3, 4, False, False, None, True, True),
    ({}, 3, 3, True, False, None, True, True),
    ({}, 3, 3, True, True, "bool", True, True),
    ({"batch_first": False}, 3, 4, False, True, "bool", True, True),
    ({}, 3, 4, False, False, "float3d", False, True),
    ({}, 3, 4, False, True, "float", True, True),
    ({"kdim": 3, "vdim": 5}, 2, 4, False, True, None, False, True),
    ({"bias": False}, 3, 4, False, False, "bool", True, True),
    ({"add_bias_kv": True, "add_zero_attn": True}, 3, 4, False, True, "bool", True, True),
    ({}, 3, 4, False, True, "float3d", True, False),
    ({"kdim": 3, "vdim": 5}, 3, 2, False, False, "bool", False, False),
]


def _mask(kind, rng, N, h, L, S, batched):
    if kind == "bool":
        m = np.zeros((L, S), dtype=bool)
        m[0, 0] = m[1, -1] = True
        return m
    if kind == "float":
        return rng.standard_normal((L, S))
    return rng.standard_normal(((N if batched else 1) * h, L, S))  # float3d


@pytest.mark.parametrize(("kw", "L", "S", "self_att", "kpm", "am", "avg", "batched"), MHA_CASES)
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_matches_torch(
    float64, rng, kw, L, S, self_att, kpm, am, avg, batched, need_weights
):
    N, E, h = 2, 4, 2
    kw = {"batch_first": True, **kw}
    theirs = torch.nn.MultiheadAttention(E, h, **kw).double()
    ours = nn.MultiheadAttention(E, h, **kw)
    _copy(ours, theirs)
    kdim, vdim = kw.get("kdim") or E, kw.get("vdim") or E

    def shape(length, d):
        if not batched:
            return (length, d)
        return (N, length, d) if kw["batch_first"] else (length, N, d)

    arrays = [rng.standard_normal(shape(L, E))]
    if not self_att:
        arrays += [rng.standard_normal(shape(S, kdim)), rng.standard_normal(shape(S, vdim))]
    ours_in = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    if self_att:  # the very same tensor three times: PyTorch's packed projection
        ours_in, theirs_in = ours_in * 3, theirs_in * 3
    masks, masks_t = {}, {}
    if kpm:
        m = np.zeros((N, S) if batched else (S,), dtype=bool)
        m[..., -1] = True
        masks["key_padding_mask"], masks_t["key_padding_mask"] = cr.tensor(m), torch.tensor(m)
    if am:
        m = _mask(am, rng, N, h, L, S, batched)
        masks["attn_mask"], masks_t["attn_mask"] = m, torch.tensor(m)
    opts = {"need_weights": need_weights, "average_attn_weights": avg}
    out, w = ours(*ours_in, **masks, **opts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("warnings.warn", lambda *a, **k: None)  # mixed mask types: deprecated in torch
        out_t, w_t = theirs(*theirs_in, **masks_t, **opts)
    _close(out, out_t)
    pairs = [(out, out_t)]
    if need_weights:
        assert w.shape == tuple(w_t.shape)
        _close(w, w_t)
        pairs.append((w, w_t))
    else:
        assert w is None
    loss, loss_t = 0.0, 0.0
    for a, b in pairs:
        u = rng.standard_normal(a.shape)
        loss, loss_t = loss + (a * cr.tensor(u)).sum(), loss_t + (b * torch.tensor(u)).sum()
    loss.backward()
    loss_t.backward()
    for a, b in zip(ours_in[: len(arrays)], theirs_in[: len(arrays)]):
        _close(a.grad, b.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(
            p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=ATOL, err_msg=name
        )


def test_multihead_attention_parameters_and_init():
    mha = nn.MultiheadAttention(8, 2)
    t = torch.nn.MultiheadAttention(8, 2)
    assert [(k, p.shape) for k, p in mha.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in t.named_parameters()
    ]
    assert np.all(mha.in_proj_bias.numpy() == 0) and np.all(mha.out_proj.bias.numpy() == 0)
    bound = np.sqrt(6 / (8 + 24))  # xavier uniform over (3E, E)
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False, add_bias_kv=True)
    ts = torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False, add_bias_kv=True)
    assert [(k, p.shape) for k, p in sep.named_parameters()] == [
        (k, tuple(p.shape)) for k, p in ts.named_parameters()
    ]
    assert sep.in_proj_weight is None and sep.in_proj_bias is None


def test_multihead_attention_dropout_only_in_training(rng):
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = cr.tensor(rng.standard_normal((2, 5, 4)).astype(np.float32))
    _, w_train = mha(x, x, x, average_attn_weights=False)
    assert (w_train.numpy() == 0).any()
    mha.eval()
    _, w_eval = mha(x, x, x)
    np.testing.assert_allclose(w_eval.numpy().sum(-1), 1.0, rtol=1e-5)


def test_multihead_attention_errors():
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    x = cr.randn(2, 3, 4)
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(cr.ShapeError, match="query has 5 features, expected 4"):
        mha(cr.randn(2, 3, 5), x, x)
    with pytest.raises(cr.ShapeError, match="all 3-D"):
        mha(x, cr.randn(3, 4), x)
    with pytest.raises(cr.ShapeError, match=r"key_padding_mask must have shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=np.zeros((2, 4), dtype=bool))
    with pytest.raises(cr.ShapeError, match=r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(cr.ShapeError, match="batch size 2 but key has 3"):
        mha(x, cr.randn(3, 3, 4), cr.randn(3, 3, 4))
    with pytest.raises(TypeError, match="only boolean and floating masks"):
        mha(x, x, x, attn_mask=np.zeros((3, 3), dtype=np.int64))
    # PyTorch's kind and words (tests/nn/test_conv_transformer_torch.py compares them).
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)


# ----- scaled dot-product attention against PyTorch -----
@pytest.mark.parametrize(
    ("mask", "causal", "scale"),
    [(None, False, None), ("bool", False, None), ("float", False, 0.3), (None, True, None)],
)
def test_scaled_dot_product_attention_matches_torch(float64, rng, mask, causal, scale):
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)))
    m = None
    if mask == "bool":
        m = rng.random((4, 6)) > 0.3
        m[:, 0] = True  # every query keeps a key
    elif mask == "float":
        m = rng.standard_normal((2, 1, 4, 6))
    ours = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, attn_mask=m, is_causal=causal, scale=scale)
    out_t = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if m is None else torch.tensor(m), is_causal=causal, scale=scale
    )
    _close(out, out_t)
    u = rng.standard_normal(out.shape)
    (out * cr.tensor(u)).sum().backward()
    (out_t * torch.tensor(u)).sum().backward()
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad)


# ----- additive attention -----
def _torch_additive(att, feats, hidden, mask=None):
    """Show, Attend and Tell's attention, written with PyTorch's tensor ops."""
    W = {k: torch.tensor(v.numpy(), requires_grad=True) for k, v in att.state_dict().items()}
    proj = feats @ W["encoder_att.weight"].T + W["encoder_att.bias"]
    q = hidden @ W["decoder_att.weight"].T + W["decoder_att.bias"]
    e = (torch.tanh(proj + q.unsqueeze(1)) @ W["full_att.weight"].T).squeeze(2)
    e = e + W["full_att.bias"]
    if mask is not None:
        e = e.masked_fill(torch.tensor(mask), float("-inf"))
    alpha = torch.softmax(e, dim=1)
    return (alpha.unsqueeze(2) * feats).sum(1), alpha, W


@pytest.mark.parametrize("masked", [False, True])
def test_additive_attention_matches_torch_reference(float64, rng, masked):
    att = nn.AdditiveAttention(5, 3, 4)
    f, h = rng.standard_normal((2, 6, 5)), rng.standard_normal((2, 3))
    mask = None
    if masked:
        mask = np.zeros((2, 6), dtype=bool)
        mask[0, 4:] = mask[1, 0] = True
    fs, hs = cr.tensor(f, requires_grad=True), cr.tensor(h, requires_grad=True)
    ft, ht = torch.tensor(f, requires_grad=True), torch.tensor(h, requires_grad=True)
    z, alpha = att(fs, hs, mask=mask)
    z_t, alpha_t, W = _torch_additive(att, ft, ht, mask)
    _close(z, z_t)
    _close(alpha, alpha_t)
    u1, u2 = rng.standard_normal(z.shape), rng.standard_normal(alpha.shape)
    ((z * cr.tensor(u1)).sum() + (alpha * cr.tensor(u2)).sum()).backward()
    ((z_t * torch.tensor(u1)).sum() + (alpha_t * torch.tensor(u2)).sum()).backward()
    _close(fs.grad, ft.grad)
    _close(hs.grad, ht.grad)
    for name, p in att.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), W[name].grad.numpy(), atol=1e-10, err_msg=name)


def test_additive_attention_weights_sum_to_one_and_masked_regions_get_zero(rng):
    att = nn.AdditiveAttention(8, 6, 5)
    feats = cr.tensor(rng.standard_normal((3, 7, 8)).astype(np.float32))
    hidden = cr.tensor(rng.standard_normal((3, 6)).astype(np.float32))
    mask = np.zeros((3, 7), dtype=bool)
    mask[0, :6] = True  # only region 6 left: all the weight goes there
    mask[1, ::2] = True
    z, alpha = att(feats, hidden, mask=mask)
    a = alpha.numpy()
    np.testing.assert_allclose(a.sum(1), 1.0, rtol=1e-6)
    assert np.all(a[mask] == 0) and np.all(a[~mask] > 0)
    np.testing.assert_allclose(a[0, 6], 1.0)
    np.testing.assert_allclose(z.numpy()[0], feats.numpy()[0, 6], rtol=1e-6)
    _, alpha_all = att(feats, hidden)
    np.testing.assert_allclose(alpha_all.numpy().sum(1), 1.0, rtol=1e-6)
    assert z.dtype == alpha.dtype == np.float32


def test_additive_attention_projected_features_are_reused(float64, rng):
    att = nn.AdditiveAttention(4, 3, 5)
    feats = cr.tensor(rng.standard_normal((2, 6, 4)), requires_grad=True)
    hidden = cr.tensor(rng.standard_normal((2, 3)))
    proj = att.project_features(feats)
    z1, a1 = att(feats, hidden, projected=proj)
    z2, a2 = att(feats, hidden)
    np.testing.assert_array_equal(z1.numpy(), z2.numpy())
    np.testing.assert_array_equal(a1.numpy(), a2.numpy())
    # Two steps sharing one projection: the gradient through it is the sum of both.
    (z1.sum() + att(feats, hidden * 2.0, projected=proj)[0].sum()).backward()
    g_shared = feats.grad.numpy().copy()
    feats.grad = None
    (att(feats, hidden)[0].sum() + att(feats, hidden * 2.0)[0].sum()).backward()
    np.testing.assert_allclose(g_shared, feats.grad.numpy(), atol=1e-12)


def test_additive_attention_gradcheck(float64, rng):
    att = nn.AdditiveAttention(3, 2, 4)
    feats = cr.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    hidden = cr.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    mask = np.array([[False, True, False, False], [False, False, False, True]])
    ws = [att.encoder_att.weight, att.decoder_att.weight, att.full_att.weight]

    def run(f, h, *_):
        z, alpha = att(f, h, mask=mask)
        return z, alpha

    assert cr.gradcheck(run, [feats, hidden, *ws])
    u = cr.tensor(rng.standard_normal((2, 3)))

    def grads(f, h, *_):
        return cr.grad((att(f, h)[0] * u).sum(), [f, h, *ws], create_graph=True)

    assert cr.gradcheck(grads, [feats, hidden, *ws])


def _fused(rng):
    def t(*shape):
        return cr.tensor(rng.standard_normal(shape), requires_grad=True)

    return {
        "additive_score": (
            lambda P, q, w: apply(AdditiveScore(), P, q, w),
            [t(2, 3, 4), t(2, 4), t(4)],
        ),
        "weighted_sum": (lambda a, v: apply(WeightedSum(), a, v), [t(2, 3), t(2, 3, 4)]),
    }


@pytest.mark.parametrize("name", ["additive_score", "weighted_sum"])
def test_fused_attention_ops_gradcheck_second_order_and_jvp(float64, rng, name):
    fn, xs = _fused(rng)[name]
    assert cr.gradcheck(fn, xs)
    u = cr.tensor(rng.standard_normal(fn(*xs).shape))

    def grads(*ins):
        return cr.grad((fn(*ins) * u).sum(), list(ins), create_graph=True)

    assert cr.gradcheck(grads, xs)
    vs = [rng.standard_normal(x.shape) for x in xs]
    _, jv = cr.jvp(fn, tuple(cr.tensor(x.numpy()) for x in xs), tuple(cr.tensor(v) for v in vs))
    gs = cr.grad((fn(*xs) * u).sum(), xs)
    lhs = float((jv.numpy() * u.numpy()).sum())
    assert abs(lhs - sum(float((g.numpy() * v).sum()) for g, v in zip(gs, vs))) < 1e-10


def test_additive_attention_errors():
    att = nn.AdditiveAttention(4, 3, 5)
    f, h = cr.randn(2, 6, 4), cr.randn(2, 3)
    with pytest.raises(cr.ShapeError, match=r"expected features of shape \(N, L, 4\)"):
        att(cr.randn(2, 6, 5), h)
    with pytest.raises(cr.ShapeError, match=r"expected hidden of shape \(2, 3\)"):
        att(f, cr.randn(3, 3))
    with pytest.raises(cr.ShapeError, match=r"projected must be project_features"):
        att(f, h, projected=cr.randn(2, 6, 4))
    with pytest.raises(cr.ShapeError, match=r"mask must have shape \(2, 6\)"):
        att(f, h, mask=np.zeros((2, 5), dtype=bool))
    with pytest.raises(ValueError, match="mask hides every region of sample 1"):
        att(f, h, mask=np.array([[False] * 6, [True] * 6]))
