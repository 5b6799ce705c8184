"""Property tests (hypothesis) over random shapes and values for elementwise and reduction ops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)

UNARY = {
    "exp": (cr.exp, np.exp, lambda x, y: y),
    "tanh": (cr.tanh, np.tanh, lambda x, y: 1 - y * y),
    "sigmoid": (cr.sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda x, y: y * (1 - y)),
    "neg": (lambda t: -t, np.negative, lambda x, y: -np.ones_like(x)),
    "square": (lambda t: t * t, np.square, lambda x, y: 2 * x),
}


@settings(max_examples=40, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(UNARY)))
def test_unary_elementwise_value_and_gradient(data, name):
    fn, ref, deriv = UNARY[name]
    x = data.draw(hnp.arrays(np.float64, shapes, elements=finite))
    t = cr.tensor(x, requires_grad=True)
    y = fn(t)
    u = data.draw(hnp.arrays(np.float64, x.shape, elements=finite))
    y.backward(cr.tensor(u))
    np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t.grad.numpy(), u * deriv(x, ref(x)), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_binary_broadcasting_matches_numpy_and_gradients_sum_back(data):
    a_shape, b_shape = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)
    ).input_shapes
    a = data.draw(hnp.arrays(np.float64, a_shape, elements=finite))
    b = data.draw(hnp.arrays(np.float64, b_shape, elements=st.floats(0.5, 3, width=64)))
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    y = ta * tb + ta / tb - tb
    np.testing.assert_allclose(y.numpy(), a * b + a / b - b)
    y.sum().backward()
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    ga = np.broadcast_to(b + 1 / b, out_shape)
    gb = np.broadcast_to(a - a / b**2 - 1, out_shape)
    assert ta.grad.shape == a_shape and tb.grad.shape == b_shape
    np.testing.assert_allclose(ta.grad.numpy(), _sum_to(ga, a_shape), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), _sum_to(gb, b_shape), rtol=1e-10, atol=1e-12)


def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


@settings(max_examples=40, deadline=None)
@given(data=st.data(), reduce=st.sampled_from(["sum", "mean", "max", "min"]), keep=st.booleans())
def test_reductions_match_numpy(data, reduce, keep):
    x = data.draw(
        hnp.arrays(
            np.float64,
            hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
            elements=finite,
            unique=True,
        )
    )
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    t = cr.tensor(x, requires_grad=True)
    if reduce in ("max", "min"):  # PyTorch's max(dim) is a (values, indices) pair; amax is not
        y = getattr(t, "a" + reduce)(axis, keep)
    else:
        y = getattr(t, reduce)(axis=axis, keepdims=keep)
    np.testing.assert_allclose(y.numpy(), getattr(np, reduce)(x, axis=axis, keepdims=keep))
    y.sum().backward()
    if reduce == "sum":
        expected = np.ones_like(x)
    elif reduce == "mean":
        expected = np.full_like(x, y.numpy().size / x.size)
    else:
        expected = (x == getattr(np, reduce)(x, axis=axis, keepdims=True)).astype(float)
    np.testing.assert_allclose(t.grad.numpy(), expected)
