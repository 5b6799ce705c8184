"""Every differentiable op against central differences (float64), over broadcasting shapes and
fan-out, and forward mode against reverse mode."""

from __future__ import annotations

import numpy as np
import pytest
from op_table import TABLE, cases, draw

import chainrule as cr

CASES = cases()


def make_inputs(op, shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [draw(s, op.domain, rng) for s in shapes]
    if op.domain == "distinct" and len(arrays) == 2:
        arrays[1] = arrays[1] + 0.125  # a and b never tie elementwise
    return [cr.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("op,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradcheck(op, shapes):
    xs = make_inputs(op, shapes)
    assert cr.gradcheck(op.fn, xs)


@pytest.mark.parametrize("op,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_random_upstream_matches_numerical(op, shapes):
    """J^T u for a random u, against the numerical Jacobian: catches transposed gradients that a
    uniform upstream (``.sum().backward()``) would hide."""
    xs = make_inputs(op, shapes, seed=1)
    y = op.fn(*xs)
    u = np.random.default_rng(2).normal(size=y.shape)
    grads = cr.grad(y, xs, cr.tensor(u), allow_unused=True)
    num = cr.autograd.numerical_jacobian(op.fn, xs)
    for i, g in enumerate(grads):
        expected = (u.reshape(-1) @ num[0][i]).reshape(xs[i].shape)
        got = np.zeros(xs[i].shape) if g is None else g.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("op,shapes", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_jvp_agrees_with_vjp(op, shapes):
    """<J v, u> == <v, J^T u>, and J v against a central difference."""
    xs = make_inputs(op, shapes, seed=3)
    rng = np.random.default_rng(4)
    vs = [rng.normal(size=x.shape) for x in xs]
    y, jv = cr.jvp(op.fn, [x.detach() for x in xs], [cr.tensor(v) for v in vs])
    np.testing.assert_allclose(y.numpy(), op.fn(*xs).numpy())
    u = rng.normal(size=y.shape)
    grads = cr.grad(op.fn(*xs), xs, cr.tensor(u), allow_unused=True)
    lhs = float(np.sum(jv.numpy() * u))
    rhs = sum(float(np.sum(v * g.numpy())) for v, g in zip(vs, grads) if g is not None)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
    eps = 1e-6
    plus = op.fn(*[cr.tensor(x.numpy() + eps * v) for x, v in zip(xs, vs)]).numpy()
    minus = op.fn(*[cr.tensor(x.numpy() - eps * v) for x, v in zip(xs, vs)]).numpy()
    np.testing.assert_allclose(jv.numpy(), (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "op", [o for o in TABLE if len(o.shapes[0]) == 2 and o.fan_out], ids=lambda o: o.name
)
def test_fan_out_same_tensor_twice(op):
    """op(x, x): both uses send a gradient into x and they must add up."""
    shape = max(op.shapes, key=lambda s: len(s[0]) + len(s[1]))[0]
    if op.name in ("matmul", "linear_no_bias"):
        shape = (3, 3)
    if op.name.startswith("cat") or op.name == "stack":
        shape = (2, 3)
    (x,) = make_inputs(op, [shape], seed=5)
    assert cr.gradcheck(lambda x: op.fn(x, x), [x])


def test_fan_out_unary_ops_reuse():
    x = cr.tensor(np.random.default_rng(6).normal(size=(3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda x: x.tanh() * x + x.sigmoid() * x.exp() - x, [x])
    assert cr.gradcheck(lambda x: (x @ x.T).softmax(-1) * x.sum(axis=1, keepdims=True), [x])


SECOND_ORDER = {
    "tanh": lambda x: x.tanh().sum(),
    "sigmoid": lambda x: (x.sigmoid() * x).sum(),
    "softmax": lambda x: (x.softmax(-1) * cr.tensor(np.arange(12.0).reshape(3, 4))).sum(),
    "log_softmax": lambda x: (x.log_softmax(-1) ** 2).sum(),
    "matmul": lambda x: ((x @ x.T) ** 2).sum(),
    "pow": lambda x: (x.abs() ** 3.0 + x**2).sum(),
    "exp_log": lambda x: (x.exp() * (x * x + 1.0).log()).sum(),
    "div_sqrt": lambda x: (x / (x * x + 1.0).sqrt()).sum(),
    "max_getitem": lambda x: (x[np.array([0, 0, 2])] ** 3).sum() + (x**2).max(),
    "broadcast": lambda x: (x.sum(axis=0, keepdims=True) * x).mean(),
    "cumsum_cumprod_prod": lambda x: (x.cumsum(-1) ** 2 + x.cumprod(0) + x.prod(1, True)).sum(),
    "norm_clone_floor": lambda x: x.norm() * x.clone().sum() + (x.floor() * x).sum(),
    "einsum": lambda x: (
        (cr.einsum("ij,kj->ik", x, x.tanh()) ** 2).sum() + cr.einsum("ij,ij->", x, x)
    ),
    # the fused linear op: x enters as input, weight (transposed) and bias at once
    "linear": lambda x: (cr.nn.functional.linear(x, x * x, x[0, :3]).tanh() ** 2).sum(),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_gradient_of_gradient(name):
    """The gradient computed with create_graph=True is itself checked numerically (a Hessian)."""
    f = SECOND_ORDER[name]

    def gradient(x):
        (g,) = cr.grad(f(x), x, create_graph=True)
        return g

    x = cr.tensor(np.random.default_rng(7).uniform(0.3, 1.2, (3, 4)), requires_grad=True)
    assert cr.gradcheck(gradient, [x])


def test_third_derivative_of_scalar():
    x = cr.tensor(0.7, dtype=cr.float64, requires_grad=True)
    y = x.tanh()
    (g1,) = cr.grad(y, x, create_graph=True)
    (g2,) = cr.grad(g1, x, create_graph=True)
    (g3,) = cr.grad(g2, x)
    t = np.tanh(0.7)
    assert g1.item() == pytest.approx(1 - t**2)
    assert g2.item() == pytest.approx(-2 * t * (1 - t**2))
    assert g3.item() == pytest.approx(-2 * (1 - t**2) ** 2 + 4 * t**2 * (1 - t**2))


def test_backward_create_graph_fills_differentiable_grad():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (h,) = cr.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_gradient_of_gradient_at_a_zero_is_refused_not_wrong():
    x = cr.tensor([0.0, 2.0, 3.0], requires_grad=True)
    assert x.prod().backward() is None and x.grad.tolist() == [6.0, 0.0, 0.0]
    with pytest.raises(NotImplementedError, match="prod: gradients of gradients"):
        cr.grad(x.prod(), x, create_graph=True)
