"""The layer ops of the systematic table (conv, pool, normalization, losses, embedding, RNN,
attention, cast, setitem) and the backward helper ops that their VJPs apply (Conv2dInput,
MaxPool2dScatter, PadFold, ...), as functions of Tensors with the shapes to test them on.

``op_table.TABLE`` takes these in, so the gradcheck, the random-cotangent check, JVP against VJP
and fan-out run on them as on every other op. A backward helper op only enters a graph when a
gradient is itself recorded (``create_graph=True``), so its case is the gradient of the layer op
at a fixed point, as a function of the upstream gradient (and of the other operand): that puts
the helper op in the graph of the function under test, forward and reverse.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import ops
from chainrule.autograd.tensor import apply
from chainrule.functional.normalization import batch_norm_max_pool2d
from chainrule.ops import attention as attention_ops
from chainrule.ops import rnn as rnn_ops

F = cr.nn.functional


def _case(name, fn, shapes, domain="real", fan_out=True):
    from op_table import OpCase

    return OpCase(name, fn, shapes, domain, fan_out=fan_out)


def _fixed(shape, seed):
    """A constant input (no gradient) drawn once, away from kinks: the point a helper op's
    gradient is taken at, or a loss's target."""
    return cr.tensor(np.random.default_rng(seed).uniform(0.2, 0.9, shape))


def _grad_at(f, point_shape, seed):
    """g -> d<f(p), g>/dp at a fixed p, recorded (create_graph): the helper ops of f's VJP."""

    def fn(g, *rest):
        p = _fixed(point_shape, seed).requires_grad_()
        (dp,) = cr.grad(f(p, *rest), p, g, create_graph=True)
        return dp

    return fn


_TARGET = np.array([1, 0, 3])  # class indices for a (3, 4) input


def _bn(x):
    return F.batch_norm(x, None, None, training=True)


def _bn_pool(x, w, b):
    return batch_norm_max_pool2d(x, None, None, w, b, True, 0.1, 1e-5, 2)


def _lstm_layer(reverse):
    return lambda xg, h0, c0, w: apply(rnn_ops.LSTMLayer(reverse), xg, h0, c0, w)


def _gru_layer(reverse):
    return lambda xg, h0, w, b: apply(rnn_ops.GRULayer(reverse), xg, h0, w, b)


def _rnn_layer(act, reverse):
    return lambda xg, h0, w: apply(rnn_ops.RNNLayer(act, reverse), xg, h0, w)


def _pool_grad(g):
    """The recorded gradient of max_pool2d at a fixed point, as a function of the upstream g."""
    return _grad_at(lambda x: F.max_pool2d(x, 2), (2, 3, 4, 4), 4)(g)


def _setitem(x, v):
    y = x * 1.0  # a non-leaf, written in place: SetItem records the write
    y[1:3] = v[: min(2, v.shape[0])] if v.ndim == 2 else v
    return y * x  # fan-out: x reaches the result through the write and directly


CONV = [((1, 2, 5, 5), (3, 2, 3, 3), (3,)), ((2, 1, 4, 6), (2, 1, 2, 3), (2,))]
IMG = [(1, 2, 4, 4), (2, 3, 4, 6)]

LAYERS = [
    _case("conv2d", lambda x, w, b: F.conv2d(x, w, b), CONV),
    _case("conv2d_stride_pad", lambda x, w, b: F.conv2d(x, w, b, 2, 1), CONV),
    _case("max_pool2d", lambda x: F.max_pool2d(x, 2), [(s,) for s in IMG], "distinct"),
    _case("max_pool2d_pad", lambda x: F.max_pool2d(x, 3, 2, 1), [(s,) for s in IMG], "distinct"),
    _case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [(s,) for s in IMG]),
    _case("batch_norm_train", _bn, [((4, 3),), ((2, 3, 2, 2),)]),
    _case("batch_norm_max_pool2d", _bn_pool, [((2, 3, 4, 4), (3,), (3,))], "distinct"),
    _case(
        "group_norm",
        lambda x, w, b: F.group_norm(x, 2, w, b),
        [((2, 4, 3), (4,), (4,))],
        fan_out=False,
    ),
    _case(
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (4,), w, b),
        [((3, 4), (4,), (4,))],
        fan_out=False,
    ),
    _case("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [(s,) for s in [(4,), (3, 4)]], "nonzero"),
    # float64 to float64: a cast to a narrower float would lose what central differences need
    _case("cast", lambda x: apply(ops.Cast(np.float64), x) * x, [((3, 4),), ((),)]),
    _case("setitem", _setitem, [((4, 3), (4, 3)), ((4, 3), (3,))]),
    _case(
        "einsum", lambda a, b: cr.einsum("ij,jk->ik", a, b), [((3, 3), (3, 3)), ((2, 3), (3, 4))]
    ),
    _case("einsum_trace_outer", lambda a: cr.einsum("ii,j->j", a, a[0]), [((3, 3),)]),
    _case(
        "embedding", lambda w: F.embedding(cr.tensor(np.array([[0, 2], [2, 3]])), w), [((4, 3),)]
    ),
    # losses: the target is a constant (or, for the two-tensor ones, a second input)
    _case("cross_entropy", lambda x: F.cross_entropy(x, cr.tensor(_TARGET)), [((3, 4),)]),
    _case(
        "cross_entropy_sum",
        lambda x: F.cross_entropy(x, cr.tensor(_TARGET), reduction="sum"),
        [((3, 4),)],
    ),
    _case("nll_loss", lambda x: F.nll_loss(x, cr.tensor(_TARGET), reduction="none"), [((3, 4),)]),
    _case(
        "binary_cross_entropy",
        lambda x: F.binary_cross_entropy(x.sigmoid(), _fixed(x.shape, 1)),
        [((3, 4),), ((5,),)],
    ),
    _case(
        "bce_with_logits",
        lambda x, t: F.binary_cross_entropy_with_logits(x, t.sigmoid()),
        [((3, 4), (3, 4)), ((5,), (5,))],
    ),
    _case(
        "smooth_l1",
        lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
        [((3, 4), (3, 4)), ((6,), (6,))],
        "distinct",
    ),
    # recurrent ops: gate pre-activations in, as nn.LSTM/GRU/RNN apply them
    _case(
        "lstm_cell",
        lambda z, c: apply(rnn_ops.LSTMCell(), z, c),
        [((2, 12), (2, 3))],
        fan_out=False,
    ),
    _case(
        "gru_cell",
        lambda xg, hg, h: apply(rnn_ops.GRUCell(), xg, hg, h),
        [((2, 9), (2, 9), (2, 3))],
    ),
    *[
        _case(f"lstm_layer_rev{r}", _lstm_layer(r), [((3, 2, 8), (2, 2), (2, 2), (8, 2))])
        for r in (False, True)
    ],
    *[
        _case(f"gru_layer_rev{r}", _gru_layer(r), [((3, 2, 6), (2, 2), (6, 2), (6,))])
        for r in (False, True)
    ],
    _case("rnn_layer_tanh", _rnn_layer("tanh", False), [((3, 2, 2), (2, 2), (2, 2))]),
    _case("rnn_layer_relu_rev", _rnn_layer("relu", True), [((3, 2, 2), (2, 2), (2, 2))], "nonzero"),
    # additive attention's two ops (nn.attention's soft attention)
    _case(
        "additive_score",
        lambda p, q, w: apply(attention_ops.AdditiveScore(), p, q, w),
        [((2, 3, 4), (2, 4), (4,))],
    ),
    _case(
        "weighted_sum",
        lambda a, v: apply(attention_ops.WeightedSum(), a, v),
        [((2, 3), (2, 3, 4))],
        fan_out=False,
    ),
]

# The helper ops inside the layer ops' VJPs, each as the gradient of its layer op at a fixed point.
HELPERS = [
    _case(
        "conv2d_input_grad",
        _grad_at(lambda x, w: F.conv2d(x, w), (1, 2, 5, 5), 2),
        [((1, 3, 3, 3), (3, 2, 3, 3))],
        fan_out=False,
    ),
    _case(
        "conv2d_weight_grad",
        _grad_at(lambda w, x: F.conv2d(x, w), (3, 2, 3, 3), 3),
        [((1, 3, 3, 3), (1, 2, 5, 5))],
        fan_out=False,
    ),
    _case(
        "max_pool2d_grad",
        _grad_at(lambda x: F.max_pool2d(x, 2), (2, 3, 4, 4), 4),
        [((2, 3, 2, 2),)],
    ),
    # MaxPool2dGather, the VJP of MaxPool2dScatter: v -> d<Scatter(g), v>/dg
    _case("max_pool2d_grad_of_grad", _grad_at(_pool_grad, (2, 3, 2, 2), 9), [((2, 3, 4, 4),)]),
    _case(
        "avg_pool2d_grad",
        _grad_at(lambda x: F.avg_pool2d(x, 2), (2, 3, 4, 4), 5),
        [((2, 3, 2, 2),)],
    ),
    _case(
        "pad_reflect_grad",
        _grad_at(lambda x: F.pad(x, (2, 1), mode="reflect"), (2, 4), 6),
        [((2, 7),)],
    ),
    _case(
        "grid_sample_grad",
        _grad_at(
            lambda x: F.grid_sample(
                x, _fixed((1, 3, 2, 2), 8) * 1.6 - 0.8, "bilinear", "zeros", False
            ),
            (1, 2, 4, 5),
            7,
        ),
        [((1, 2, 3, 2),)],
    ),
]
