"""Conv1d, ConvTranspose2d, AdaptiveAvgPool2d, MaxPool1d, GroupNorm, Dropout2d and Upsample
beside PyTorch in float64: weights copied by name from a torch module (which also proves the
parameter names match), then the output and the gradients of the input and of every parameter
for a random upstream gradient; gradcheck on a small case; and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

ATOL = 1e-10


def _close(ours, theirs, atol: float = ATOL) -> float:
    a = ours.numpy() if isinstance(ours, cr.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _copy(ours: nn.Module, theirs) -> None:
    """torch's weights into ours, by name: the names and their order must be the same."""
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def compare(ours: nn.Module, theirs, *shapes, rng, call=None, atol: float = ATOL) -> float:
    """Runs both modules on the same random float64 inputs of ``shapes`` and checks the output,
    the input gradients and every parameter's gradient. Returns the largest difference."""
    theirs = theirs.double()
    _copy(ours, theirs)
    xs = [rng.standard_normal(s) for s in shapes]
    ins = [cr.tensor(x, requires_grad=True) for x in xs]
    tins = [torch.tensor(x, requires_grad=True) for x in xs]
    call = call or (lambda m, *a: m(*a))
    y, yt = call(ours, *ins), call(theirs, *tins)
    worst = _close(y, yt, atol)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    for a, b in zip(ins, tins):
        worst = max(worst, _close(a.grad, b.grad, atol))
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        worst = max(worst, _close(p.grad, tparams[name].grad, atol))
    return worst


# ----- AdaptiveAvgPool2d -----
@pytest.mark.parametrize(
    ("shape", "out"),
    [
        ((2, 3, 7, 7), 1),
        ((2, 3, 7, 5), (3, 2)),  # bins overlap: 7 is not a multiple of 3
        ((1, 2, 6, 9), (None, 4)),
        ((3, 5, 4), (2, 3)),  # unbatched
        ((2, 1, 3, 3), (5, 4)),  # larger than the input: pixels repeat
    ],
)
def test_adaptive_avg_pool2d_matches_torch(float64, rng, shape, out):
    worst = compare(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), shape, rng=rng)
    assert worst < ATOL


def test_adaptive_avg_pool2d_gradcheck_and_errors(float64, rng):
    x = cr.tensor(rng.standard_normal((1, 2, 5, 4)), requires_grad=True)
    assert cr.gradcheck(lambda t: cr.nn.functional.adaptive_avg_pool2d(t, (3, 3)), [x])
    with pytest.raises(cr.ShapeError, match=r"adaptive_avg_pool2d.*\(5, 4\)"):
        nn.AdaptiveAvgPool2d(2)(cr.zeros(5, 4))


# ----- Conv1d -----
@pytest.mark.parametrize(
    ("args", "kw", "shape"),
    [
        ((3, 4, 3), {}, (2, 3, 9)),
        ((3, 5, 2), {"stride": 2, "padding": 1}, (2, 3, 10)),
        ((4, 6, 3), {"dilation": 2, "padding": 2, "groups": 2}, (2, 4, 11)),
        ((4, 4, 3), {"groups": 4, "bias": False, "stride": 3}, (1, 4, 8)),  # depthwise
        ((2, 3, 4), {"padding": "same", "dilation": 3}, (2, 2, 13)),  # even span: odd zero right
        ((2, 3, 3), {"padding": "valid"}, (3, 2, 7)),
        ((2, 3, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 2, 6)),
        ((2, 3, 3), {"padding": 1, "padding_mode": "circular"}, (2, 2, 5)),
        ((3, 2, 3), {"padding": 1}, (3, 7)),  # unbatched
    ],
)
def test_conv1d_matches_torch(float64, rng, args, kw, shape):
    worst = compare(nn.Conv1d(*args, **kw), torch.nn.Conv1d(*args, **kw), shape, rng=rng)
    assert worst < ATOL


def test_conv1d_gradcheck_and_errors(float64, rng):
    import chainrule.nn.functional as F

    x = cr.tensor(rng.standard_normal((2, 4, 7)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), requires_grad=True)
    fn = lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)  # noqa: E731
    assert cr.gradcheck(fn, [x, w, b])
    conv = nn.Conv1d(3, 4, 3)
    with pytest.raises(cr.ShapeError, match=r"Conv1d.*\(N, 3, L\).*\(2, 5, 9\)"):
        conv(cr.zeros(2, 5, 9))
    with pytest.raises(cr.ShapeError, match=r"Conv1d.*3-D.*\(2, 3, 4, 5\)"):
        conv(cr.zeros(2, 3, 4, 5))


# ----- MaxPool1d -----
@pytest.mark.parametrize(
    ("args", "shape"),
    [((2,), (2, 3, 8)), ((3, 2, 1), (2, 3, 9)), ((3, 1), (1, 2, 6)), ((2, 3), (3, 7))],
)
def test_max_pool1d_matches_torch(float64, rng, args, shape):
    worst = compare(nn.MaxPool1d(*args), torch.nn.MaxPool1d(*args), shape, rng=rng)
    assert worst < ATOL


def test_max_pool1d_gradcheck_and_errors(float64, rng):
    import chainrule.nn.functional as F

    x = cr.tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    assert cr.gradcheck(lambda t: F.max_pool1d(t, 3, 2, 1), [x])
    with pytest.raises(cr.ShapeError, match=r"MaxPool1d.*\(2, 3, 4, 5\)"):
        nn.MaxPool1d(2)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        nn.MaxPool1d(2, ceil_mode=True)(cr.zeros(2, 3, 4))


# ----- GroupNorm -----
@pytest.mark.parametrize(
    ("args", "shape"),
    [
        ((2, 6), (3, 6, 4, 5)),
        ((3, 3), (2, 3, 7)),
        ((1, 4), (2, 4)),
        ((2, 4, 1e-3, False), (2, 4, 3)),
    ],
)
def test_group_norm_matches_torch(float64, rng, args, shape):
    theirs = torch.nn.GroupNorm(*args)
    if theirs.affine:  # not 1 and 0, so that a transposed weight would show
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    assert compare(nn.GroupNorm(*args), theirs, shape, rng=rng) < ATOL


def test_group_norm_gradcheck_and_errors(float64, rng):
    import chainrule.nn.functional as F

    x = cr.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = cr.tensor(rng.standard_normal(4), requires_grad=True)
    b = cr.tensor(rng.standard_normal(4), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    with pytest.raises(cr.ShapeError, match=r"GroupNorm.*\(N, 4, \*\).*\(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(cr.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(3, 4)


# ----- Dropout2d -----
@pytest.mark.parametrize("shape", [(8, 16, 3, 4), (8, 16, 5)])
def test_dropout2d_drops_whole_channels_and_scales(float64, rng, shape):
    """Random masks cannot match torch's; what torch does can: whole (n, c) channels zeroed,
    the others scaled by 1/(1-p), the gradient the same mask, identity in eval."""
    cr.manual_seed(3)
    p = 0.4
    x = cr.tensor(rng.uniform(1, 2, shape), requires_grad=True)  # no zeros of its own
    m = nn.Dropout2d(p)
    y = m(x)
    ratio = (y.numpy() / x.numpy()).reshape(shape[0], shape[1], -1)
    per_channel = ratio[..., :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(per_channel, ratio.shape))
    assert set(np.round(np.unique(per_channel), 12)) == {0.0, round(1 / (1 - p), 12)}
    dropped = (per_channel == 0).mean()
    assert 0.2 < dropped < 0.6
    up = rng.standard_normal(shape)
    y.backward(cr.tensor(up))
    np.testing.assert_allclose(x.grad.numpy(), up * ratio.reshape(shape))
    m.eval()
    assert np.array_equal(m(x).numpy(), x.numpy())
    # A 2-D input is no longer refused: PyTorch 2.13 warns and drops it elementwise
    # (tests/nn/test_grid_sample_interpolate_torch.py::test_dropout2d_on_2d_and_3d_inputs_as_torch).


# ----- ConvTranspose2d -----
@pytest.mark.parametrize(
    ("args", "kw", "shape"),
    [
        ((3, 4, 3), {}, (2, 3, 5, 4)),
        ((3, 4, 4), {"stride": 2, "padding": 1}, (2, 3, 5, 5)),  # the DCGAN doubling
        ((3, 4, (3, 2)), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 4, 5)),
        (
            (4, 6, 3),
            {"groups": 2, "stride": (2, 3), "dilation": 2, "padding": (1, 2)},
            (2, 4, 5, 4),
        ),
        ((2, 3, 2), {"stride": 3, "output_padding": (2, 1), "bias": False}, (1, 2, 3, 3)),
        ((2, 3, 3), {"padding": 1}, (2, 4, 5)),  # unbatched
    ],
)
def test_conv_transpose2d_matches_torch(float64, rng, args, kw, shape):
    ours, theirs = nn.ConvTranspose2d(*args, **kw), torch.nn.ConvTranspose2d(*args, **kw)
    assert compare(ours, theirs, shape, rng=rng) < ATOL


def test_conv_transpose2d_gradcheck_and_errors(float64, rng):
    import chainrule.nn.functional as F

    x = cr.tensor(rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(2), requires_grad=True)

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, dilation=(1, 2))

    assert cr.gradcheck(fn, [x, w, b])
    with pytest.raises(cr.ShapeError, match=r"ConvTranspose2d.*\(N, 3, H, W\).*\(2, 5, 4, 4\)"):
        nn.ConvTranspose2d(3, 4, 3)(cr.zeros(2, 5, 4, 4))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(3, 4, 3, output_padding=1)(cr.zeros(2, 3, 4, 4))


# ----- Upsample / F.interpolate -----
@pytest.mark.parametrize(
    ("kw", "shape"),
    [
        ({"scale_factor": 2}, (2, 3, 3, 4)),
        ({"size": (5, 7)}, (1, 2, 3, 4)),  # nearest, non-integer ratio
        ({"size": (2, 3)}, (1, 2, 5, 7)),  # nearest, downsampling
        ({"scale_factor": 1.5}, (2, 2, 5)),  # nearest, 1-D
        ({"scale_factor": 2, "mode": "bilinear"}, (2, 3, 3, 4)),
        ({"size": (5, 6), "mode": "bilinear", "align_corners": True}, (1, 2, 3, 4)),
        ({"size": (2, 3), "mode": "bilinear", "align_corners": False}, (1, 2, 5, 7)),
        ({"size": (1, 4), "mode": "bilinear", "align_corners": True}, (1, 1, 3, 2)),
        ({"scale_factor": (1.7, 0.6), "mode": "bilinear"}, (1, 2, 4, 5)),
        ({"scale_factor": 2.5, "mode": "linear", "align_corners": True}, (2, 2, 4)),
        ({"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}, (1, 1, 4, 3)),
    ],
)
def test_upsample_matches_torch(float64, rng, kw, shape):
    assert compare(nn.Upsample(**kw), torch.nn.Upsample(**kw), shape, rng=rng) < ATOL


def test_interpolate_gradcheck_and_errors(float64, rng):
    import chainrule.nn.functional as F

    x = cr.tensor(rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
    assert cr.gradcheck(lambda t: F.interpolate(t, size=(4, 5), mode="bilinear"), [x])
    with pytest.raises(cr.ShapeError, match=r"interpolate.*bilinear.*\(2, 3, 4\)"):
        F.interpolate(cr.zeros(2, 3, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(cr.zeros(1, 1, 2, 2), scale_factor=2, align_corners=True)
