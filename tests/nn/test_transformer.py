"""nn.Transformer* beside PyTorch in float64: torch's state_dict loaded by name, then outputs
and the gradients of the inputs and of every parameter for a random upstream gradient, with
masks, pre- and post-norm, both activations, batch_first both ways; and a gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
from test_conv_pool_norm_layers_torch import compare

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

ATOL = 1e-9
E, H, FF = 8, 2, 12


def _masks(lib, kind: str, S: int, N: int):
    """Attention mask and key padding mask for length S in ``lib`` (torch or chainrule)."""
    if kind == "none":
        return None, None
    kpm = np.zeros((N, S), dtype=bool)
    kpm[0, -1] = kpm[1, -2:] = True
    causal = lib.nn.Transformer.generate_square_subsequent_mask(S)
    make = torch.tensor if lib is torch else cr.tensor
    if kind == "bool":
        return make(np.triu(np.ones((S, S), dtype=bool), 1)), make(kpm)
    return causal, make(kpm)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"norm_first": True, "activation": "gelu"},
        {"batch_first": True, "activation": "relu"},
        {"bias": False, "layer_norm_eps": 1e-3},
    ],
)
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_encoder_layer_matches_torch(float64, rng, kw, masks):
    S, N = 5, 2
    shape = (N, S, E) if kw.get("batch_first") else (S, N, E)
    args = (E, H, FF, 0.0)

    def call(m, x):
        am, kpm = _masks(torch if isinstance(m, torch.nn.Module) else cr, masks, S, N)
        return m(x, src_mask=am, src_key_padding_mask=kpm)

    ours, theirs = (
        nn.TransformerEncoderLayer(*args, **kw),
        torch.nn.TransformerEncoderLayer(*args, **kw),
    )
    assert compare(ours, theirs, shape, rng=rng, call=call, atol=ATOL) < ATOL


@pytest.mark.parametrize(
    "kw", [{}, {"norm_first": True}, {"batch_first": True, "activation": "gelu"}]
)
def test_decoder_layer_matches_torch(float64, rng, kw):
    T, S, N = 4, 5, 2
    bf = kw.get("batch_first")
    shapes = ((N, T, E), (N, S, E)) if bf else ((T, N, E), (S, N, E))

    def call(m, tgt, mem):
        lib = torch if isinstance(m, torch.nn.Module) else cr
        tm, tkpm = _masks(lib, "float", T, N)
        _, mkpm = _masks(lib, "bool", S, N)
        return m(tgt, mem, tgt_mask=tm, tgt_key_padding_mask=tkpm, memory_key_padding_mask=mkpm)

    ours, theirs = (
        nn.TransformerDecoderLayer(E, H, FF, 0.0, **kw),
        torch.nn.TransformerDecoderLayer(E, H, FF, 0.0, **kw),
    )
    assert compare(ours, theirs, *shapes, rng=rng, call=call, atol=ATOL) < ATOL


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True}])
def test_transformer_matches_torch(float64, rng, kw):
    S, T, N = 5, 4, 2
    bf = kw.get("batch_first")
    shapes = ((N, S, E), (N, T, E)) if bf else ((S, N, E), (T, N, E))
    args = dict(
        d_model=E,
        nhead=H,
        num_encoder_layers=2,
        num_decoder_layers=2,
        dim_feedforward=FF,
        dropout=0.0,
    )

    def call(m, src, tgt):
        lib = torch if isinstance(m, torch.nn.Module) else cr
        tm = lib.nn.Transformer.generate_square_subsequent_mask(T)
        _, skpm = _masks(lib, "bool", S, N)
        return m(src, tgt, tgt_mask=tm, src_key_padding_mask=skpm, memory_key_padding_mask=skpm)

    ours, theirs = nn.Transformer(**args, **kw), torch.nn.Transformer(**args, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert compare(ours, theirs, *shapes, rng=rng, call=call, atol=ATOL) < ATOL


def test_encoder_stack_and_mask_helper(float64, rng):
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, 0.0)
    theirs = torch.nn.TransformerEncoder(
        layer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False
    )
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, 0.0), 2, norm=nn.LayerNorm(E))
    assert compare(ours, theirs, (5, 2, E), rng=rng, atol=ATOL) < ATOL
    m = nn.Transformer.generate_square_subsequent_mask(4).numpy()
    np.testing.assert_array_equal(
        m, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    )
    # the copies are independent, as PyTorch's deepcopy makes them
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight


def test_transformer_gradcheck_and_errors(float64, rng):
    layer = nn.TransformerEncoderLayer(4, 2, 6, 0.0, activation="gelu", norm_first=True)
    x = cr.tensor(rng.standard_normal((3, 1, 4)), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert cr.gradcheck(lambda t: layer(t, src_mask=mask), [x])
    with pytest.raises(cr.ShapeError, match=r"TransformerEncoderLayer.*\(S, N, 4\).*\(3, 1, 5\)"):
        layer(cr.zeros(3, 1, 5))
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")
