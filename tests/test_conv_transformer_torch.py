"""Conv2d/Conv1d with groups, dilation and string padding, and the Transformer's causal masks,
against the installed PyTorch (float64 values and gradients on the same inputs and weights)."""

from __future__ import annotations

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
