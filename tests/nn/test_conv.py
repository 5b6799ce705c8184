"""Convolution, pooling and BatchNorm2d: PyTorch as the oracle (outputs and every gradient, in
float64, with a random upstream gradient), gradcheck of each op, max-pool ties, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.ops.conv import Geometry, col2im, im2col

torch = pytest.importorskip("torch")

# (N, C, H, W), O, kernel, stride, padding: strides 1 and 2, paddings 0 and 1, odd sizes and
# non-square kernels, a kernel that covers the whole padded input, and a stride larger than the
# kernel (pixels that no window reads get a zero gradient).
CONV_CASES = [
    ((2, 3, 7, 9), 4, (3, 3), 1, 0),
    ((2, 3, 7, 9), 4, (3, 3), 1, 1),
    ((2, 3, 7, 9), 4, (3, 3), 2, 0),
    ((2, 3, 7, 9), 4, (3, 3), 2, 1),
    ((2, 3, 8, 7), 5, (2, 3), 1, 1),
    ((2, 3, 8, 7), 5, (3, 2), 2, 1),
    ((1, 2, 5, 6), 3, (1, 1), 1, 0),
    ((3, 1, 5, 5), 2, (5, 5), 1, 0),
    ((2, 2, 9, 9), 3, (2, 2), 3, 0),
    ((2, 3, 6, 5), 4, (3, 1), (2, 1), (1, 0)),
    ((2, 1, 7, 6), 3, (3, 2), 2, 1),  # one input channel: columns built another way
]


def _torch(a: np.ndarray, grad: bool = True):
    return torch.tensor(a, requires_grad=grad)


def _close(ours: cr.Tensor, theirs, atol: float = 1e-10) -> None:
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=atol)


# ----- convolution against PyTorch -----
@pytest.mark.parametrize(("shape", "o", "k", "stride", "padding"), CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(float64, rng, shape, o, k, stride, padding, bias):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((o, shape[1], *k))
    b = rng.standard_normal(o) if bias else None
    xs, ws = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    bs = cr.tensor(b, requires_grad=True) if bias else None
    y = F.conv2d(xs, ws, bs, stride=stride, padding=padding)
    xt, wt = _torch(x), _torch(w)
    bt = _torch(b) if bias else None
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    assert y.shape == tuple(yt.shape)
    _close(y, yt)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    _close(xs.grad, xt.grad)
    _close(ws.grad, wt.grad)
    if bias:
        _close(bs.grad, bt.grad)


def test_conv2d_layer_with_copied_weights_matches_torch(float64, rng):
    tconv = torch.nn.Conv2d(3, 6, kernel_size=(3, 2), stride=2, padding=1).double()
    conv = nn.Conv2d(3, 6, kernel_size=(3, 2), stride=2, padding=1)
    assert [k for k, _ in conv.named_parameters()] == [k for k, _ in tconv.named_parameters()]
    conv.load_state_dict({k: cr.tensor(v.numpy()) for k, v in tconv.state_dict().items()})
    x = rng.standard_normal((2, 3, 9, 8))
    xs, xt = cr.tensor(x, requires_grad=True), _torch(x)
    y, yt = conv(xs), tconv(xt)
    _close(y, yt)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    _close(xs.grad, xt.grad)
    _close(conv.weight.grad, tconv.weight.grad)
    _close(conv.bias.grad, tconv.bias.grad)


def test_conv2d_accepts_any_input_memory_layout(float64, rng):
    # A transposed view (what a user's NHWC data looks like) and a channels-last array (what our
    # own ops return) give the same result as a contiguous (N, C, H, W) array.
    x = rng.standard_normal((2, 5, 6, 3)).transpose(0, 3, 1, 2)  # (N, C, H, W) view
    w = rng.standard_normal((4, 3, 3, 3))
    want = torch.nn.functional.conv2d(torch.tensor(np.ascontiguousarray(x)), torch.tensor(w))
    _close(F.conv2d(cr.tensor(x), cr.tensor(w)), want)
    _close(F.conv2d(cr.from_numpy(x), cr.tensor(w)), want)


def test_conv2d_skips_the_input_gradient_when_not_needed(rng):
    x = cr.tensor(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    conv = nn.Conv2d(1, 4, 3)
    conv(x).sum().backward()
    assert x.grad is None
    assert conv.weight.grad.shape == (4, 1, 3, 3)
    assert conv.weight.grad.dtype == np.float32


def test_conv2d_second_derivatives_match_torch(float64, rng):
    # A gradient penalty: d/dθ |∂(y·u)/∂θ|², which differentiates conv's backward.
    x = rng.standard_normal((2, 2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    b = rng.standard_normal(3)
    up = rng.standard_normal((2, 3, 3, 3))

    def penalty(gx, gw, gb):
        return (gx * gx).sum() + (gw * gw * gw).sum() + (gb * gb * gx.sum()).sum()

    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*ins, stride=2, padding=1)
    penalty(*cr.grad((y * cr.tensor(up)).sum(), ins, create_graph=True)).backward()
    tins = [_torch(a) for a in (x, w, b)]
    yt = torch.nn.functional.conv2d(*tins, stride=2, padding=1)
    penalty(*torch.autograd.grad((yt * torch.tensor(up)).sum(), tins, create_graph=True)).backward()
    _close(ins[0].grad, tins[0].grad)
    _close(ins[1].grad, tins[1].grad)
    # No gradient depends on b (conv is affine in it): neither framework gives b one.
    assert ins[2].grad is None and tins[2].grad is None


# ----- gradcheck -----
def test_gradcheck_conv2d(float64, rng):
    x = cr.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1), [x, w, b])


def test_gradcheck_conv2d_backward_is_differentiable(float64, rng):
    # The backward's own ops (transposed convolution and weight gradient) checked as functions of
    # (x, w, upstream gradient).
    x = cr.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    u = cr.tensor(rng.standard_normal((1, 2, 5, 3)), requires_grad=True)

    def backward(x, w, u):
        y = F.conv2d(x, w, stride=(1, 2), padding=1)
        return cr.grad((y * u).sum(), [x, w], create_graph=True)

    assert cr.gradcheck(backward, [x, w, u])


def test_conv2d_jvp_agrees_with_vjp(float64, rng):
    # <u, J t> = <Jᵀ u, t> for the forward mode against the reverse mode.
    x, w, b = (rng.standard_normal(s) for s in [(2, 3, 6, 5), (4, 3, 2, 3), (4,)])
    tx, tw, tb = (rng.standard_normal(a.shape) for a in (x, w, b))

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=2, padding=1)

    _, jt = cr.jvp(f, (cr.tensor(x), cr.tensor(w), cr.tensor(b)), (tx, tw, tb))
    u = rng.standard_normal(jt.shape)
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    grads = cr.grad((f(*ins) * cr.tensor(u)).sum(), ins)
    lhs = float((u * jt.numpy()).sum())
    rhs = sum(float((g.numpy() * t).sum()) for g, t in zip(grads, (tx, tw, tb)))
    assert lhs == pytest.approx(rhs, rel=1e-10)


@pytest.mark.parametrize(
    ("k", "stride", "padding"), [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), 0)]
)
@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_gradcheck_pooling(float64, rng, pool, k, stride, padding):
    # Distinct values (a permutation) keep every maximum clear of the finite-difference step.
    x = cr.tensor(rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 7.0, requires_grad=True)
    assert cr.gradcheck(lambda x: pool(x, k, stride, padding), [x])


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_gradcheck_pooling_backward_is_differentiable(float64, rng, pool):
    x = cr.tensor(rng.permutation(50).reshape(1, 2, 5, 5) / 7.0, requires_grad=True)
    u = cr.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)

    def backward(x, u):
        (gx,) = cr.grad((pool(x, 3, 1, 1) ** 2 * u).sum(), [x], create_graph=True)
        return gx

    assert cr.gradcheck(backward, [x, u])


# ----- pooling against PyTorch -----
POOL_CASES = [
    (2, None, 0),
    (2, 2, 1),
    (3, 2, 0),
    (3, 2, 1),
    (3, 1, 1),
    ((2, 3), (2, 1), (1, 0)),
    ((3, 2), 2, 1),
    ((3, 2), None, 0),
    (1, 2, 0),
]


@pytest.mark.parametrize(("k", "stride", "padding"), POOL_CASES)
@pytest.mark.parametrize(
    ("ours", "theirs"), [(F.max_pool2d, "max_pool2d"), (F.avg_pool2d, "avg_pool2d")]
)
@pytest.mark.parametrize("hw", [(7, 9), (6, 12)])  # odd sizes; sizes that 2×2, 3×2, 2×3 tile
def test_pooling_matches_torch(float64, rng, ours, theirs, k, stride, padding, hw):
    # Small integers: many ties inside windows, the case where max pooling must pick one.
    x = rng.integers(0, 3, size=(2, 3, *hw)).astype(np.float64)
    xs, xt = cr.tensor(x, requires_grad=True), _torch(x)
    y = ours(xs, k, stride, padding)
    yt = getattr(torch.nn.functional, theirs)(xt, k, stride, padding)
    assert y.shape == tuple(yt.shape)
    _close(y, yt)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    _close(xs.grad, xt.grad, atol=1e-12)


@pytest.mark.parametrize(("k", "stride"), [(2, 2), (3, 2), (3, 1), (2, 1)])
def test_max_pool_ties_send_the_gradient_to_one_position_per_window(float64, rng, k, stride):
    # A flat background with flat patches: nearly every window is a tie.
    x = np.zeros((2, 2, 10, 11))
    x[:, 0, 2:6, 3:9] = 1.0
    x[:, 1, 5:, :4] = -2.0
    x[1, 1, 0, 0] = 3.0
    xs, xt = cr.tensor(x, requires_grad=True), _torch(x)
    y = F.max_pool2d(xs, k, stride)
    yt = torch.nn.functional.max_pool2d(xt, k, stride)
    up = rng.integers(1, 5, size=y.shape).astype(np.float64)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    np.testing.assert_array_equal(xs.grad.numpy(), xt.grad.numpy())
    # Each window's gradient arrived once: the total is conserved (sharing among ties would
    # conserve it too, so also check that a flat window gave all of it to its first pixel).
    assert xs.grad.numpy().sum() == pytest.approx(up.sum())
    if k == stride == 2:
        assert xs.grad.numpy()[0, 0, 0, 0] == up[0, 0, 0, 0]
        assert (xs.grad.numpy()[0, 0, :2, 1] == 0).all()


def test_max_pool_layer_on_real_image_like_input(rng):
    # float32 end to end, the default dtype; a channels-last input from a convolution.
    conv, pool = nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2)
    x = cr.tensor(np.zeros((2, 1, 8, 8), dtype=np.float32))  # a blank image: all ties
    y = pool(conv(x))
    assert y.dtype == np.float32 and y.shape == (2, 4, 4, 4)
    y.sum().backward()
    # Without the bias's broadcast every output pixel equals the bias: ties everywhere, and the
    # weight's gradient is zero because the image is zero.
    np.testing.assert_array_equal(conv.weight.grad.numpy(), 0)
    np.testing.assert_array_equal(conv.bias.grad.numpy(), 2 * 16)


def test_pool_layers_match_torch_and_repr():
    assert repr(nn.MaxPool2d(2)) == repr(torch.nn.MaxPool2d(2))  # with dilation=1, ceil_mode=False
    assert repr(nn.AvgPool2d((2, 3), 1, 1)) == "AvgPool2d(kernel_size=(2, 3), stride=1, padding=1)"
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    for ours, theirs in [
        (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
    ]:
        np.testing.assert_allclose(
            ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6
        )


# ----- BatchNorm2d -----
def test_batchnorm2d_matches_torch_train_and_eval(float64, rng):
    tbn = torch.nn.BatchNorm2d(3).double()
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == list(tbn.state_dict())
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(rng.standard_normal(3)))
        tbn.bias.copy_(torch.tensor(rng.standard_normal(3)))
    bn.load_state_dict({k: cr.tensor(v.numpy()) for k, v in tbn.state_dict().items()})
    for _ in range(2):  # two steps: the running statistics move twice
        x = rng.standard_normal((4, 3, 5, 7)) * 3 + 1
        xs, xt = cr.tensor(x, requires_grad=True), _torch(x)
        y, yt = bn(xs), tbn(xt)
        _close(y, yt)
        up = rng.standard_normal(y.shape)
        y.backward(cr.tensor(up))
        yt.backward(torch.tensor(up))
        _close(xs.grad, xt.grad, atol=1e-9)
        _close(bn.weight.grad, tbn.weight.grad, atol=1e-9)
        _close(bn.bias.grad, tbn.bias.grad, atol=1e-9)
    _close(bn.running_mean, tbn.running_mean)
    _close(bn.running_var, tbn.running_var)
    bn.eval()
    tbn.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    _close(bn(cr.tensor(x)), tbn(torch.tensor(x)))


def test_batchnorm2d_channels_last_path_equals_the_general_one(float64, rng):
    # A convolution's output is channels-last; batch norm then sums with BLAS over its
    # (N·H·W, C) rows. Same figures as on (N, C, H, W) memory, and gradchecked.
    x = rng.standard_normal((3, 4, 5, 6)) * 2 + 1
    x_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    up = rng.standard_normal(x.shape)
    outs = []
    for arr in (x, x_last):
        cr.manual_seed(0)
        bn = nn.BatchNorm2d(4)
        bn.weight.data[...] = rng.standard_normal(4) if not outs else outs[0][4]
        xs = cr.tensor(arr, requires_grad=True)
        y = bn(xs)
        y.backward(cr.tensor(up))
        outs.append((y.numpy(), xs.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy(),
                     bn.weight.numpy().copy(), bn.running_var.numpy().copy()))  # fmt: skip
    assert not outs[0][0].transpose(0, 2, 3, 1).flags.c_contiguous
    assert outs[1][0].transpose(0, 2, 3, 1).flags.c_contiguous  # the result stays channels-last
    for a, b in zip(outs[0], outs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    w, b = (
        cr.tensor(rng.standard_normal(4), requires_grad=True),
        cr.tensor(rng.standard_normal(4), requires_grad=True),
    )
    xs = cr.tensor(x_last, requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), [xs, w, b])


def test_batchnorm_keeps_no_activation_sized_array_for_its_backward(rng):
    # x̂ is recomputed from x in backward (as PyTorch does): the op keeps per-channel statistics
    # only, so that a second activation per layer is not held from forward to backward.
    for x in (
        rng.standard_normal((8, 4, 6, 6)),
        rng.standard_normal((8, 6, 4, 4)).transpose(0, 3, 1, 2),
    ):
        bn = nn.BatchNorm2d(4)
        y = bn(cr.tensor(x, requires_grad=True))
        kept = [v for v in vars(y._node).values() if isinstance(v, np.ndarray)]
        assert kept and max(v.size for v in kept) == 4, [v.shape for v in kept]


# ----- a small CNN end to end -----
def test_small_cnn_matches_torch_with_copied_weights(float64, rng):
    # Convolution, batch norm, ReLU and both poolings chained: their channels-last results feed
    # one another and a flatten, and the gradients of every parameter still agree.
    def build(m):
        return m.Sequential(
            m.Conv2d(2, 4, 3, padding=1),
            m.BatchNorm2d(4),
            m.ReLU(),
            m.MaxPool2d(2),
            m.Conv2d(4, 5, (2, 3), stride=2, padding=1),
            m.ReLU(),
            m.AvgPool2d(2, 1),
            m.Flatten(),
            m.Linear(5 * 2 * 1, 3),
        )

    tnet, net = build(torch.nn).double(), build(nn)
    net.load_state_dict({k: cr.tensor(v.numpy()) for k, v in tnet.state_dict().items()})
    x = rng.standard_normal((3, 2, 9, 8))
    y, yt = net(cr.tensor(x)), tnet(torch.tensor(x))
    _close(y, yt)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    theirs = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        _close(p.grad, theirs[name].grad, atol=1e-9)


# ----- the layer: parameters, initialisation -----
def test_conv2d_layer_parameters_and_init():
    cr.manual_seed(0)
    conv = nn.Conv2d(3, 8, kernel_size=(3, 5))
    tconv = torch.nn.Conv2d(3, 8, kernel_size=(3, 5))
    assert {k: tuple(v.shape) for k, v in conv.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tconv.state_dict().items()
    }
    bound = 1 / np.sqrt(3 * 3 * 5)
    for p in (conv.weight, conv.bias):
        a = np.abs(p.numpy())
        assert a.max() <= bound and a.max() > 0.8 * bound
    assert conv.weight.dtype == np.float32
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.Conv2d(3, 8, (3, 5)).weight.numpy(), conv.weight.numpy())
    assert nn.Conv2d(3, 8, 3, bias=False).bias is None
    assert repr(nn.Conv2d(1, 32, 3, padding=1)) == (
        "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )


# ----- errors -----
def test_conv2d_wrong_channels_names_layer_shapes_and_line():
    conv = nn.Conv2d(1, 32, kernel_size=3)
    with pytest.raises(cr.ShapeError) as e:
        conv(cr.zeros((8, 3, 28, 28)))
    msg = str(e.value)
    assert msg.startswith("Conv2d(1, 32, kernel_size=(3, 3)")
    assert "(N, 1, H, W)" in msg and "(8, 3, 28, 28)" in msg
    assert "test_conv.py" in msg and "conv(cr.zeros((8, 3, 28, 28)))" in msg


def test_conv2d_kernel_larger_than_padded_input():
    conv = nn.Conv2d(2, 4, kernel_size=(5, 3), padding=1)
    with pytest.raises(
        cr.ShapeError, match=r"Conv2d\(2, 4.*kernel 5×3 is larger than the padded input 4×6"
    ) as e:
        conv(cr.zeros((1, 2, 2, 4)))
    assert "(1, 2, 2, 4)" in str(e.value) and "test_conv.py" in str(e.value)
    with pytest.raises(cr.ShapeError, match=r"MaxPool2d\(kernel_size=3.*window 3×3 is larger"):
        nn.MaxPool2d(3)(cr.zeros((1, 1, 2, 5)))


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (1, 1, 1, 28, 28)])
def test_non_4d_input_is_refused(shape):
    for layer, expect in [
        (nn.Conv2d(1, 4, 3), r"Conv2d\(1, 4.*expected a 4-D input of shape \(N, 1, H, W\)"),
        (nn.MaxPool2d(2), r"MaxPool2d\(.*expected a 4-D input"),
        (nn.AvgPool2d(2), r"AvgPool2d\(.*expected a 4-D input"),
        (nn.BatchNorm2d(1), r"BatchNorm2d\(1.*expected a 4-D input"),
    ]:
        with pytest.raises(cr.ShapeError, match=expect) as e:
            layer(cr.zeros(shape))
        assert str(shape) in str(e.value) and "test_conv.py" in str(e.value)


def test_functional_argument_errors():
    x = cr.zeros((1, 2, 5, 5))
    with pytest.raises(cr.ShapeError, match=r"conv2d: expected a bias of shape \(3,\)"):
        F.conv2d(x, cr.zeros((3, 2, 3, 3)), cr.zeros(4))
    with pytest.raises(ValueError, match="conv2d: stride must be at least 1"):
        F.conv2d(x, cr.zeros((3, 2, 3, 3)), stride=0)
    with pytest.raises(TypeError, match="conv2d: expected a floating-point input, got int64"):
        F.conv2d(cr.tensor(np.zeros((1, 2, 5, 5), dtype=np.int64)), cr.zeros((3, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(TypeError, match="avg_pool2d: kernel_size must be an int or a pair"):
        F.avg_pool2d(x, 2.5)


# ----- the building blocks -----
def test_col2im_is_the_adjoint_of_im2col(rng):
    # <im2col(x), c> = <x, col2im(c)> for every geometry: the identity the backward relies on.
    for geom in [
        Geometry(3, 3, 1, 1, 1, 1),
        Geometry(2, 3, 2, 1, 0, 1),
        Geometry(2, 2, 3, 3, 0, 0),
    ]:
        x = rng.standard_normal((2, 3, 7, 6))
        cols = im2col(x, geom)
        c = rng.standard_normal(cols.shape)
        assert (cols * c).sum() == pytest.approx((x * col2im(c, x.shape, geom)).sum(), rel=1e-12)


# ----- regression: the engine's where (ReLU's backward) -----
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_math_where_with_zero_branch_equals_numpy_where(rng, dtype):
    # ArrayMath.where selects between an array and 0 by masking bits (np.where mispredicted its
    # way to 15x slower on a ReLU's random mask): it must give exactly np.where's result,
    # non-finite values and signed zeros included, for channels-last views too.
    from chainrule.backend import ArrayMath

    g = rng.standard_normal((4, 9, 10, 16)).astype(dtype).transpose(0, 3, 1, 2)
    g[0, 0, 0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    g[1, 1, 1, :4] = [np.nan, np.inf, -np.inf, -0.0]
    cond = rng.standard_normal(g.shape) > 0
    cond[0, 0, 0, :4] = False
    cond[1, 1, 1, :4] = True
    for ours, want in [
        (ArrayMath.where(cond, g, 0), np.where(cond, g, 0)),
        (ArrayMath.where(cond, 0.0, g), np.where(cond, 0.0, g)),
    ]:
        assert ours.dtype == want.dtype and ours.shape == want.shape
        np.testing.assert_array_equal(ours.view(np.uint8), want.view(np.uint8))  # bit for bit
