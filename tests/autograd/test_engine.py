"""The reverse-mode engine itself: accumulation, graph freeing, errors, modes, memory."""

from __future__ import annotations

import gc
import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr


def test_fan_out_accumulates():
    x = cr.tensor(3.0, requires_grad=True)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad.item() == 7.0


def test_backward_accumulates_into_grad_across_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_grads_do_not_alias():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.numpy()[0] = 100.0
    assert b.grad.numpy()[0] == 1.0
    assert a.grad.numpy().flags.writeable


def test_broadcast_gradient_is_summed_to_input_shape():
    a = cr.tensor(np.ones((3, 1)), requires_grad=True)
    b = cr.tensor(np.ones((4,)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((4,), 3.0))


def test_second_backward_through_freed_graph_is_refused():
    x = cr.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    y = x.exp() * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 3 * np.exp(2.0))


def test_backward_errors_say_what_to_do():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\.sum\(\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        cr.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*\(2,\)"):
        (x * 2).backward(cr.ones(3))
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        with cr.no_grad():
            y = (x * 2).sum()
        y.backward()


def test_integer_tensors_refuse_requires_grad():
    # PyTorch's RuntimeError and words (issue 27 changed the kind from TypeError).
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        cr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype"):
        cr.tensor([True, False]).requires_grad_()


def test_dtypes_default_float32_and_integers_stay():
    assert cr.tensor(1.0).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True]).dtype == cr.bool
    assert cr.tensor(np.zeros(2)).dtype == cr.float64
    x = cr.tensor([1.0, 2.0])
    assert (x * 2.5 + 1).dtype == cr.float32  # Python scalars do not upcast
    prev = cr.get_default_dtype()
    try:
        cr.set_default_dtype(cr.float64)
        assert cr.tensor(1.0).dtype == cr.float64
        assert cr.randn(2).dtype == cr.float64
    finally:
        cr.set_default_dtype(prev)


def test_no_grad_detach_and_requires_grad_():
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        y = x * 3
        with cr.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf
    d = (x * 3).detach()
    assert not d.requires_grad and d.is_leaf
    w = cr.tensor(1.0).requires_grad_()
    assert w.requires_grad


def test_no_grad_as_decorator():
    @cr.no_grad()
    def f(x):
        return x * 2

    assert not f(cr.tensor(1.0, requires_grad=True)).requires_grad


def test_grad_function_leaves_grad_attribute_alone():
    x = cr.tensor(3.0, requires_grad=True)
    y = cr.tensor(4.0, requires_grad=True)
    gx, gy = cr.grad(x * y, [x, y])
    assert (gx.item(), gy.item()) == (4.0, 3.0)
    assert x.grad is None and y.grad is None


def test_grad_of_intermediate_and_unused():
    x = cr.tensor(3.0, requires_grad=True)
    h = x * x
    y = h * 2
    unused = cr.tensor(1.0, requires_grad=True)
    gh, gx = cr.grad(y, [h, x], retain_graph=True)
    assert (gh.item(), gx.item()) == (2.0, 12.0)
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.grad(y, [unused], retain_graph=True)
    assert cr.grad(y, [unused], allow_unused=True) == (None,)


def test_shape_error_names_op_shapes_and_user_line():
    a = cr.tensor(np.ones((3,)))
    b = cr.tensor(np.ones((4,)))
    with pytest.raises(cr.ShapeError) as e:
        a + b  # the line the message must point at
    msg = str(e.value)
    assert "add" in msg and "(3,)" in msg and "(4,)" in msg
    assert "test_engine.py" in msg and "a + b" in msg


def test_matmul_error_explains_inner_dimensions():
    with pytest.raises(
        cr.ShapeError,
        match=r"matmul: inner dimensions differ.*\(2, 3\).*3 columns.*\(4, 5\).*4 rows",
    ):
        cr.ones(2, 3) @ cr.ones(4, 5)


def test_other_shape_errors():
    with pytest.raises(cr.ShapeError, match=r"reshape: cannot reshape.*\(2, 3\).*\(4,\)"):
        cr.ones(2, 3).reshape(4)
    with pytest.raises(cr.ShapeError, match=r"cat: .*\(2, 3\), \(2, 4\)"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)], axis=0)
    with pytest.raises(cr.ShapeError, match=r"permute: .*transpose\(dim0, dim1\)"):
        cr.ones(2, 3, 4).permute(0, 1)
    with pytest.raises(IndexError, match=r"getitem.*shape \(3,\)"):
        cr.ones(3)[5]


def test_softmax_and_log_softmax_of_huge_logits_are_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (cr.float32, cr.float64):
            x = cr.tensor(
                np.array([[1e4, 1e4 - 1, -1e4], [1e4, 1e4, 1e4]], dtype=dtype), requires_grad=True
            )
            s = x.softmax(-1)
            ls = x.log_softmax(-1)
            (s * cr.tensor(np.arange(6.0, dtype=dtype).reshape(2, 3))).sum().backward()
            assert np.isfinite(s.numpy()).all() and np.isfinite(x.grad.numpy()).all()
            x.grad = None
            (ls * cr.tensor(np.arange(6.0, dtype=dtype).reshape(2, 3))).sum().backward()
            assert np.isfinite(ls.numpy()).all() and np.isfinite(x.grad.numpy()).all()
            np.testing.assert_allclose(s.numpy()[1], [1 / 3] * 3, rtol=1e-6)
            np.testing.assert_allclose(ls.numpy()[0, :2], [-0.31326169, -1.31326169], rtol=1e-6)


def test_sigmoid_of_extremes_is_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = cr.tensor([-1e4, 1e4, -50.0], requires_grad=True)
        y = x.sigmoid()
        y.sum().backward()
    assert y.numpy().tolist()[:2] == [0.0, 1.0]
    assert y.numpy()[2] > 0  # no underflow to 0 at -50 in float32
    assert np.isfinite(x.grad.numpy()).all()


def test_chain_of_100000_ops_and_memory_is_released():
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    x = cr.tensor(np.ones(16), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    during = tracemalloc.get_traced_memory()[0]
    y.sum().backward()
    del y
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert x.grad.numpy()[0] == pytest.approx(1.0000001**100_000, rel=1e-4)
    graph = during - before
    assert graph > 10_000_000  # the graph really was large (about 100k nodes)
    # What stays after backward: the leaf and its grad, not the graph.
    assert after - before < 0.01 * graph, (before, during, after)


def test_backward_frees_intermediate_buffers():
    gc.collect()
    x = cr.tensor(np.ones((256, 256)), requires_grad=True)
    tracemalloc.start()
    y = ((x * 2).exp() + x).tanh().sum()
    held = tracemalloc.get_traced_memory()[0]
    y.backward()
    del y
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held > 3 * 256 * 256 * 4
    assert after < held / 2


def test_backward_releases_each_intermediate_once_its_vjp_has_run():
    # The walk drops its own reference to a tensor after that tensor's VJP: by the time the walk
    # reaches the first op of a chain, the chain's later intermediates are gone, not held until
    # the walk ends (which made the whole forward graph part of the backward's peak).
    from chainrule.autograd.tensor import apply
    from chainrule.ops.base import Op

    seen = []

    class Probe(Op):
        name = "probe"

        def forward(self, x):
            return x * 1.0

        def vjp(self, m, g, x, y):
            seen.append(tracemalloc.get_traced_memory()[0])
            return (g,)

    gc.collect()
    x = cr.tensor(np.ones(1 << 17), requires_grad=True)  # 1 MiB
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    y = apply(Probe(), x)
    for _ in range(8):
        y = (y * 1.001).tanh()  # 16 intermediates of 1 MiB each
    loss = y.sum()
    del y
    held = tracemalloc.get_traced_memory()[0] - base
    loss.backward()
    tracemalloc.stop()
    assert held > 16 << 20
    # At the probe (the last VJP): its own input and output, the gradient in flight, and not
    # the 16 MiB of the chain above it.
    assert seen[0] - base < 4 << 20, (held, seen[0] - base)


def test_detect_anomaly_names_op_and_line():
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with cr.detect_anomaly():
        with pytest.raises(cr.AnomalyError, match=r"(?s)log.*test_engine.py.*x.log\(\)"):
            with np.errstate(invalid="ignore"):
                x.log()
    y = cr.tensor([0.0], requires_grad=True)
    with cr.detect_anomaly():
        z = y.sqrt()  # forward is finite (0); backward divides by 0
        with pytest.raises(cr.AnomalyError, match=r"(?s)backward of sqrt.*y.sqrt\(\)"):
            with np.errstate(divide="ignore"):
                z.sum().backward()


def test_jvp_simple_and_tuple_outputs():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    v = cr.tensor([1.0, 0.0], dtype=cr.float64)
    y, t = cr.jvp(lambda x: (x**2).sum(), x, v)
    assert y.item() == 5.0 and t.item() == 2.0
    (_y1, _y2), (t1, t2) = cr.jvp(lambda a, b: (a * b, a + b), (x, x), (v, v))
    np.testing.assert_array_equal(t1.numpy(), [2.0, 0.0])
    np.testing.assert_array_equal(t2.numpy(), [2.0, 0.0])


def test_gradcheck_reports_wrong_gradient():
    from chainrule.autograd.tensor import apply
    from chainrule.ops.base import Op

    class BadSquare(Op):
        name = "bad_square"

        def forward(self, x):
            return x * x

        def vjp(self, m, g, x, y):
            return (g * x,)  # should be 2 g x

    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(
        cr.GradcheckError, match=r"input 0 element \(0,\): numerical 2, analytical 1"
    ):
        cr.gradcheck(lambda x: apply(BadSquare(), x), [x])


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        cr.gradcheck(lambda x: x * 2, [cr.tensor([1.0], requires_grad=True)])


def test_cast_between_float_dtypes_is_differentiable():
    x = cr.tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x.astype(cr.float32)
    assert y.dtype == cr.float32
    (y * y).sum().backward()
    assert x.grad.dtype == cr.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -4.0])


def test_indexing_with_repeated_indices_accumulates():
    x = cr.tensor(np.arange(4.0), requires_grad=True)
    x[np.array([1, 1, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 0, 1])


def test_setitem_refused_on_graph_tensors():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 5.0
    y = cr.zeros(3)
    y[1] = 2.0
    assert y.tolist() == [0.0, 2.0, 0.0]


def test_manual_seed_makes_draws_repeatable():
    cr.manual_seed(123)
    a = cr.randn(5).numpy()
    cr.manual_seed(123)
    b = cr.randn(5).numpy()
    np.testing.assert_array_equal(a, b)


def test_max_ties_share_gradient():
    x = cr.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5])


def test_gradcheck_perturbs_a_non_contiguous_input_in_place():
    # A transposed view: reshape(-1) of it is a copy, so the perturbation must go through indices.
    x = cr.from_numpy(np.random.default_rng(0).standard_normal((4, 3)).T).requires_grad_()
    assert not x.numpy().flags.c_contiguous
    assert cr.gradcheck(lambda x: (x * x.exp()).sum(axis=0), [x])
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(lambda x: cr.tensor(3.0) * (x * x).sum() + x.detach().sum() * x.sum(), [x])


def test_both_math_namespaces_provide_every_name_of_the_vjp_contract():
    # A VJP written against ops.base.VJPMath must run on arrays and, differentiated, on Tensors.
    from chainrule import backend
    from chainrule.autograd import tensor_math
    from chainrule.ops.base import VJPMath

    names = [n for n in vars(VJPMath) if not n.startswith("_")]
    assert len(names) >= 20
    for ns in (backend.ArrayMath, tensor_math):
        missing = [n for n in names if not callable(getattr(ns, n, None))]
        assert missing == [], f"{ns.__name__} lacks {missing}"
