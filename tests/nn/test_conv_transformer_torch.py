"""Conv2d/Conv1d with groups, dilation and string padding, and the Transformer's causal masks,
against the installed PyTorch (float64 values and gradients on the same inputs and weights)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")


def _copy_weights(cm, tm):
    cm.double()
    tm.double()
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in cm.state_dict().items()})


def _compare_layer(cm, tm, shape, seed=0):
    """Values, input gradient and every parameter's gradient, for a random upstream."""
    _copy_weights(cm, tm)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cy, ty = cm(cx), tm(tx)
    u = rng.normal(size=tuple(ty.shape))
    cy.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(cy.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), (_, q) in zip(cm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)  # fmt: skip


CONV2D = [
    {"groups": 2},
    {"dilation": 2},
    {"groups": 4, "dilation": (2, 1), "stride": 2, "padding": 3},
    {"groups": 2, "padding": "same", "dilation": 2},
    {"groups": 4, "padding_mode": "reflect", "padding": 1},
    {"padding": "same", "dilation": (1, 2), "padding_mode": "circular"},
    {"padding": "valid", "groups": 2},
    {"padding_mode": "replicate", "padding": (2, 1), "bias": False},
]


@pytest.mark.parametrize("kw", CONV2D, ids=str)
def test_conv2d_groups_dilation_padding_match_torch(kw):
    _compare_layer(cr.nn.Conv2d(4, 8, (3, 2), **kw), torch.nn.Conv2d(4, 8, (3, 2), **kw),
                   (2, 4, 9, 8))  # fmt: skip


def test_conv2d_depthwise_layer_shapes_and_repr():
    c, t = cr.nn.Conv2d(6, 12, 3, groups=6, dilation=2), torch.nn.Conv2d(6, 12, 3, groups=6,
                                                                         dilation=2)  # fmt: skip
    assert c.weight.shape == tuple(t.weight.shape) == (12, 1, 3, 3)
    assert repr(c) == repr(t)
    _compare_layer(c, t, (1, 6, 7, 7))


@pytest.mark.parametrize(
    "kw",
    [{"groups": 2}, {"dilation": 3, "padding": 3, "stride": 2, "groups": 4},
     {"padding": "same", "dilation": 2, "padding_mode": "reflect"},
     {"padding": "same", "padding_mode": "circular", "groups": 2}],
    ids=str,
)  # fmt: skip
def test_conv1d_groups_dilation_match_torch(kw):
    _compare_layer(cr.nn.Conv1d(4, 8, 4, **kw), torch.nn.Conv1d(4, 8, 4, **kw), (2, 4, 15))


def test_functional_conv2d_dilated_grouped_gradcheck_and_torch():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(1, 4, 6, 5)), rng.normal(size=(6, 2, 2, 3)), rng.normal(size=6)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(2, 1), groups=2)

    assert cr.gradcheck(fn, xs)
    want = torch.nn.functional.conv2d(*(torch.tensor(a) for a in (x, w, b)), stride=(1, 2),
                                      padding=1, dilation=(2, 1), groups=2)  # fmt: skip
    np.testing.assert_allclose(fn(*xs).numpy(), want.numpy(), rtol=1e-10, atol=1e-12)


def _same_error(cfn, tfn, match):
    with pytest.raises(Exception) as want:
        tfn()
    with pytest.raises(want.type, match=match):
        cfn()


def test_conv2d_refusals_as_torch():
    _same_error(lambda: cr.nn.Conv2d(4, 6, 3, groups=3), lambda: torch.nn.Conv2d(4, 6, 3, groups=3),
                "in_channels must be divisible by groups")  # fmt: skip
    _same_error(lambda: cr.nn.Conv2d(4, 6, 3, groups=4), lambda: torch.nn.Conv2d(4, 6, 3, groups=4),
                "out_channels must be divisible by groups")  # fmt: skip
    _same_error(lambda: cr.nn.Conv2d(4, 6, 3, padding="foo"),
                lambda: torch.nn.Conv2d(4, 6, 3, padding="foo"), "Invalid padding string")  # fmt: skip
    _same_error(lambda: cr.nn.Conv2d(4, 6, 3, padding="same", stride=2),
                lambda: torch.nn.Conv2d(4, 6, 3, padding="same", stride=2),
                "padding='same' is not supported for strided convolutions")  # fmt: skip
    _same_error(lambda: cr.nn.Conv2d(4, 6, 3, padding_mode="x"),
                lambda: torch.nn.Conv2d(4, 6, 3, padding_mode="x"), "padding_mode must be")  # fmt: skip
    _same_error(lambda: F.conv2d(cr.zeros(1, 4, 5, 5), cr.zeros(6, 4, 3, 3), padding="same", stride=2),
                lambda: torch.nn.functional.conv2d(torch.zeros(1, 4, 5, 5), torch.zeros(6, 4, 3, 3),
                                                   padding="same", stride=2),
                "padding='same' is not supported for strided convolutions")  # fmt: skip
    with pytest.raises(cr.ShapeError, match=r"x.shape\[1\] == weight.shape\[1\]·groups"):
        F.conv2d(cr.zeros(1, 4, 5, 5), cr.zeros(6, 3, 3, 3), groups=2)


# ----- is_causal in the Transformer classes -----
S, N, E = 5, 3, 8
NEED_MASK = "Need attn_mask if specifying the is_causal hint"


def _encoder_pair():
    cr.manual_seed(0)
    c = cr.nn.TransformerEncoder(cr.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0), 2)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0), 2,
                                    enable_nested_tensor=False)  # fmt: skip
    _copy_weights(c, t)
    return c, t


def _masks():
    rng = np.random.default_rng(10)
    causal = np.triu(np.full((S, S), -np.inf), 1)
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -1] = True
    return {
        "causal": causal,
        "causal_bool": np.triu(np.ones((S, S), dtype=bool), 1),
        "random": rng.normal(size=(S, S)),
        "kpm": kpm,
    }


@pytest.mark.parametrize(
    ("mask", "is_causal", "kpm"),
    [("causal", None, False), ("causal_bool", None, False), ("causal", True, False),
     ("random", True, False),  # torch trusts the hint: the causal mask replaces the given one
     ("random", None, False), ("random", False, False),
     ("random", True, True)],  # with a padding mask torch uses the given mask
)  # fmt: skip
def test_transformer_encoder_is_causal_as_torch(mask, is_causal, kpm):
    c, t = _encoder_pair()
    m = _masks()
    x = np.random.default_rng(11).normal(size=(S, N, E))
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ck = {"mask": m[mask], "is_causal": is_causal}
    tk = {"mask": torch.tensor(m[mask]), "is_causal": is_causal}
    if kpm:
        ck["src_key_padding_mask"] = m["kpm"]
        tk["src_key_padding_mask"] = torch.tensor(m["kpm"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: mismatched mask types are deprecated
        cy, ty = c(cx, **ck), t(tx, **tk)
    u = np.random.default_rng(12).normal(size=cy.shape)
    cy.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(cy.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_is_causal_without_a_mask_is_refused_as_torch():
    c, t = _encoder_pair()
    # float32 like the layers: a float64 input would meet PyTorch's dtype refusal first where
    # the hint is checked only inside the cross-attention (memory_is_causal)
    x = np.zeros((S, N, E), dtype=np.float32)
    _same_error(lambda: c(cr.tensor(x), is_causal=True), lambda: t(torch.tensor(x), is_causal=True),
                NEED_MASK)  # fmt: skip
    _same_error(lambda: c.layers[0](cr.tensor(x), is_causal=True),
                lambda: t.layers[0](torch.tensor(x), is_causal=True), NEED_MASK)  # fmt: skip
    cd = cr.nn.TransformerDecoder(cr.nn.TransformerDecoderLayer(E, 2, 16, dropout=0.0), 1)
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, 2, 16, dropout=0.0), 1)
    x = x.astype(np.float32)  # the decoders are float32: a float64 input is refused first
    for kw in ({"tgt_is_causal": True}, {"memory_is_causal": True}):
        _same_error(lambda kw=kw: cd(cr.tensor(x), cr.tensor(x), **kw),
                    lambda kw=kw: td(torch.tensor(x), torch.tensor(x), **kw), NEED_MASK)  # fmt: skip


def test_transformer_is_causal_and_generate_square_subsequent_mask_as_torch():
    cr.manual_seed(1)
    c = cr.nn.Transformer(E, 2, 1, 1, 16, 0.0)
    t = torch.nn.Transformer(E, 2, 1, 1, 16, 0.0)
    _copy_weights(c, t)
    rng = np.random.default_rng(13)
    src, tgt, rnd = rng.normal(size=(S, N, E)), rng.normal(size=(4, N, E)), rng.normal(size=(4, 4))
    cm = cr.nn.Transformer.generate_square_subsequent_mask(S)
    tm = torch.nn.Transformer.generate_square_subsequent_mask(S)
    assert cm.dtype == cr.float32 and tm.dtype == torch.float32
    np.testing.assert_array_equal(cm.numpy(), tm.numpy())
    cy = c(cr.tensor(src), cr.tensor(tgt), src_mask=cm.double(), tgt_mask=rnd, src_is_causal=True,
           tgt_is_causal=True)  # fmt: skip
    ty = t(torch.tensor(src), torch.tensor(tgt), src_mask=tm.double(), tgt_mask=torch.tensor(rnd),
           src_is_causal=True, tgt_is_causal=True)  # fmt: skip
    np.testing.assert_allclose(cy.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-10)
    _same_error(lambda: c(cr.tensor(src), cr.tensor(tgt), src_is_causal=True),
                lambda: t(torch.tensor(src), torch.tensor(tgt), src_is_causal=True), NEED_MASK)  # fmt: skip
    _same_error(lambda: c(cr.tensor(src), cr.tensor(tgt[:, :2])),
                lambda: t(torch.tensor(src), torch.tensor(tgt[:, :2])), "batch number")  # fmt: skip
    _same_error(lambda: c(cr.tensor(src[..., :6]), cr.tensor(tgt[..., :6])),
                lambda: t(torch.tensor(src[..., :6]), torch.tensor(tgt[..., :6])), "d_model")  # fmt: skip


def test_multihead_attention_is_causal_with_weights_uses_the_mask_as_torch():
    """need_weights=True: torch computes with the given mask, the hint changes nothing."""
    cr.manual_seed(2)
    c, t = cr.nn.MultiheadAttention(E, 2), torch.nn.MultiheadAttention(E, 2)
    _copy_weights(c, t)
    rng = np.random.default_rng(14)
    x, rnd = rng.normal(size=(S, N, E)), rng.normal(size=(S, S))
    for need in (True, False):
        cy = c(*[cr.tensor(x)] * 3, attn_mask=rnd, is_causal=True, need_weights=need)[0]
        ty = t(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(rnd), is_causal=True,
               need_weights=need)[0]  # fmt: skip
        np.testing.assert_allclose(cy.numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-10)
