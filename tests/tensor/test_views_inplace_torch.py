"""In-place writes through views, views that see their base's later writes, version checks for
saved values only, and in-place activations: each beside PyTorch (float64, same inputs, values
and gradients of a random upstream gradient), errors with PyTorch's kind of exception."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

RNG = np.random.default_rng(27)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((3, 4))
U = RNG.standard_normal((3, 4))


def _leaves(lib):
    return lib.tensor(X, requires_grad=True), lib.tensor(W, requires_grad=True)


def _run(fn, lib):
    """fn(lib, x, w) -> out; returns out's values and the gradients of x and w for the upstream
    gradient U (sum of out * U) — not a uniform one, which would hide a transposition."""
    x, w = _leaves(lib)
    out = fn(lib, x, w)
    up = np.resize(U, tuple(out.shape))
    (out * lib.tensor(up)).sum().backward()
    grads = [None if t.grad is None else t.grad.numpy().copy() for t in (x, w)]
    return out.detach().numpy().copy(), grads


def _same_as_torch(fn):
    ours, theirs = _run(fn, cr), _run(fn, torch)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    for g, gt in zip(ours[1], theirs[1]):
        assert (g is None) == (gt is None)
        if g is not None:
            np.testing.assert_allclose(g, gt, rtol=1e-12, atol=1e-12)


def _write(y, write):
    write(y)
    return y * y  # y's new values are used, and saved, after the write


# ----- writes through a view while recording (PyTorch's CopySlices) -----
VIEW_WRITES = {
    "row_mul_": lambda L, y, w: _write(y, lambda y: y[0].mul_(2)),
    "columns_add_": lambda L, y, w: _write(y, lambda y: y[:, 1:3].add_(w[:, :2])),
    "transposed_row_add_": lambda L, y, w: _write(y, lambda y: y.T[0].add_(w[:, 0])),
    "flat_view_slice_mul_": lambda L, y, w: _write(y, lambda y: y.view(-1)[2:7].mul_(3)),
    "narrow_add_": lambda L, y, w: _write(y, lambda y: y.narrow(1, 1, 2).add_(w[:, 1:3])),
    "unsqueeze_row_add_": lambda L, y, w: _write(y, lambda y: y.unsqueeze(0)[0].add_(w)),
    "permute_mul_by_tensor": lambda L, y, w: _write(
        y, lambda y: y.permute(1, 0)[1:3].mul_(w.T[:2])
    ),
    "chained_setitem": lambda L, y, w: _write(y, lambda y: y[1].__setitem__(2, w[0, 0] * 5)),
    "view_then_view_again": lambda L, y, w: _write(
        y, lambda y: (y[0].add_(w[0]), y[:, 0].mul_(w[:, 1]), y.T[1:].sub_(w.T[1:]))
    ),
    "expanded_row_part": lambda L, y, w: _write(y, lambda y: y[0:1].expand(3, 4)[0].add_(w[1])),
    "relu_on_view": lambda L, y, w: _write(y, lambda y: y[1:].relu_()),
    "exp_on_view": lambda L, y, w: _write(y, lambda y: y[:, 2].exp_()),
}


@pytest.mark.parametrize("name", sorted(VIEW_WRITES))
def test_in_place_write_through_a_view_matches_torch(name):
    _same_as_torch(lambda L, x, w: VIEW_WRITES[name](L, x * 1, w))


def test_chained_assignment_into_a_plain_tensor_matches_torch():
    for lib in (cr, torch):
        v = lib.tensor(2.5, dtype=lib.float64, requires_grad=True)
        t = lib.zeros(3, 3, dtype=lib.float64)
        t[0][1] = v
        t[2][0] = v * 3
        (t * lib.tensor(U[:, :3])).sum().backward()
        if lib is cr:
            ours = (t.numpy().copy(), v.grad.item())
    np.testing.assert_allclose(ours[0], t.detach().numpy())
    assert ours[1] == pytest.approx(v.grad.item(), rel=1e-12)


def test_writes_through_a_view_give_gradients_of_gradients_as_torch():
    def fn(lib):
        x, w = _leaves(lib)
        y = x * x
        y[1:].mul_(w[1:])
        (g,) = (cr.grad if lib is cr else torch.autograd.grad)((y * y).sum(), x, create_graph=True)
        (gg,) = (cr.grad if lib is cr else torch.autograd.grad)((g * g).sum(), w)
        return g.detach().numpy(), gg.numpy()

    for a, b in zip(fn(cr), fn(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_write_through_a_view_passes_gradcheck():
    def fn(x, w):
        y = x * 1
        y[:, 1:3].mul_(w[:, :2])
        y.T[0].add_(w[:, 3])
        return y * y

    x, w = (cr.tensor(a, requires_grad=True) for a in (X, W))
    assert cr.gradcheck(fn, (x, w))


def test_an_overlapping_expand_view_refuses_writes_as_torch():
    for lib in (cr, torch):
        y = lib.tensor(X, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            y[0].expand(3, 4).add_(1)


# ----- a view taken before an in-place change of its base -----
STALE = {
    "view_then_base_iadd": lambda L, y, w: (lambda v: (y.__iadd__(w), v * 1)[1])(y[0]),
    "view_then_base_mul_": lambda L, y, w: (lambda v: (y.mul_(w), v * w[:, 1])[1])(y[:, 1]),
    "view_used_before_and_after": lambda L, y, w: (
        lambda v: (lambda a: (y.add_(w), a + v * v)[1])(v * 2)
    )(y.T[2]),
    "view_then_other_view_written": lambda L, y, w: (lambda v: (y[0].mul_(w[0]), v * v)[1])(y[:2]),
    "view_used_between_two_writes": lambda L, y, w: (
        lambda v: (y.add_(w), (lambda a: (y.mul_(w), a * v)[1])(v * 2))[1]
    )(y[1:, 2:]),
    "two_writes_then_view_used": lambda L, y, w: (lambda v: (y.add_(w), y[1].mul_(3), v.sum(0))[2])(
        y.view(4, 3)
    ),
}


@pytest.mark.parametrize("name", sorted(STALE))
def test_a_view_sees_its_bases_later_in_place_change_as_torch(name):
    _same_as_torch(lambda L, x, w: STALE[name](L, x * 1, w))


def test_backward_from_a_view_taken_before_the_write_as_torch():
    for lib in (cr, torch):
        x, w = _leaves(lib)
        y = x * 1
        v = y[0]
        y += w
        v.sum().backward()
        if lib is cr:
            assert v.grad_fn is not None
            ours = (x.grad.numpy().copy(), w.grad.numpy().copy())
    np.testing.assert_allclose(ours[0], x.grad.numpy())
    np.testing.assert_allclose(ours[1], w.grad.numpy())


def test_a_view_of_a_plain_tensor_gains_a_gradient_with_its_base_as_torch():
    for lib in (cr, torch):
        w = lib.tensor(W[0], requires_grad=True)
        t = lib.zeros(3, 4, dtype=lib.float64)
        row, col = t[2], t[:, 1]  # taken while t needs no gradient
        t[2] = w * 2
        assert row.requires_grad and col.requires_grad and row.grad_fn is not None
        (row * row).sum().backward(retain_graph=True)
        (col * lib.tensor(W[:, 0])).sum().backward()
        if lib is cr:
            ours = w.grad.numpy().copy()
    np.testing.assert_allclose(ours, w.grad.numpy(), rtol=1e-12)


# ----- version checks flag only values a backward saved -----
def test_an_op_that_saved_nothing_lets_the_write_through_as_torch():
    _same_as_torch(lambda L, x, w: (lambda y: (lambda z: (y.mul_(3), z + y)[1])(y + 1))(x * 1))
    _same_as_torch(lambda L, x, w: (lambda y: (lambda z: (y.mul_(3), z)[1])(y.exp()))(x * 1))
    _same_as_torch(lambda L, x, w: (lambda y: (lambda z: (y.add_(w), z)[1])(y * 2))(x * 1))


SAVED = {
    "mul_saves_its_inputs": (lambda y: y * y, lambda y, z: y.mul_(3), "mul", "input"),
    "exp_saves_its_result": (lambda y: y.exp(), lambda y, z: z.mul_(3), "exp", "result"),
    "sigmoid_saves_its_result": (lambda y: y.sigmoid(), lambda y, z: z[0].add_(1), "sigmoid", ""),
    "relu_saves_its_result": (lambda y: y.relu(), lambda y, z: z.add_(1), "relu", "result"),
    "matmul_saves_its_inputs": (lambda y: y @ y.T, lambda y, z: y[1].zero_(), "matmul", ""),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_a_saved_value_written_since_is_refused_as_torch(name):
    make, write, op, which = SAVED[name]
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 1
        z = make(y)
        write(y, z)
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation") as err:
            z.sum().backward()
        if lib is cr:
            assert f"of the {op} op" in str(err.value) and which in str(err.value)


def test_a_write_under_no_grad_into_a_saved_value_is_refused_as_torch():
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 1
        z = y * y
        with lib.no_grad():
            y[0, 0] = 5.0
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation"):
            z.sum().backward()


# ----- PyTorch's refusals of in-place writes it cannot record -----
REFUSED = {
    "leaf": (lambda x: x.add_(1), "a leaf"),
    "view_of_a_leaf": (lambda x: x[0].mul_(2), "a view of a leaf"),
    "relu_module_on_a_leaf": (
        lambda x: (cr if isinstance(x, cr.Tensor) else torch).nn.ReLU(inplace=True)(x),
        "a leaf",
    ),
    "one_of_several_views": (lambda x: (x * 1).split(2)[0].add_(1), r"modified in ?place"),
    "unbound_view": (lambda x: (x * 1).unbind(0)[1].mul_(2), r"modified in ?place"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_in_place_writes_refused_as_torch(name):
    fn, msg = REFUSED[name]
    for lib in (cr, torch):
        with pytest.raises(RuntimeError, match=msg):
            fn(lib.tensor(X, requires_grad=True))


def test_a_view_made_under_no_grad_cannot_be_written_with_recording_as_torch():
    for lib in (cr, torch):
        y = lib.tensor(X, requires_grad=True) * 1
        with lib.no_grad():
            v = y[0]
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            v.add_(1)
        t = lib.zeros(3, dtype=lib.float64)
        with lib.no_grad():
            u = t[1:]
        u.add_(1)  # nothing to record: allowed
        assert t.tolist() == [0.0, 1.0, 1.0]


def test_in_place_view_write_inside_compile_matches_eager():
    w = cr.tensor(W, requires_grad=True)

    def step(x):
        y = x * w
        y[:, 1:3].mul_(2)
        loss = (y * y).sum()
        loss.backward()
        return loss

    fn = cr.compile(step)
    xs = [cr.tensor(RNG.standard_normal((3, 4))) for _ in range(3)]
    with pytest.warns(cr.jit.CompileWarning, match="in-place"):
        got = [fn(x).item() for x in xs]
    compiled_grad = w.grad.numpy().copy()
    w.grad = None
    want = [step(x).item() for x in xs]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(compiled_grad, w.grad.numpy(), rtol=1e-12)


def test_a_write_through_detach_is_seen_by_backward_as_torch():
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x.exp()
        d = y.detach()
        d[0].zero_()
        assert y._version == d._version == 1
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation"):
            y.sum().backward()
        p = lib.tensor(X, requires_grad=True)
        p.data.mul_(2)  # .data: outside the version counter, in both
        assert p._version == 0


def test_forward_mode_sees_writes_through_views():
    def inplace(x):
        y = x * 1
        y[0].mul_(3)
        y.T[1:3].add_(y.T[0])
        return y * y

    def out_of_place(x):
        y = cr.cat([x[:1] * 3, x[1:]], 0)
        y = cr.cat([y[:, :1], y[:, 1:3] + y[:, :1], y[:, 3:]], 1)
        return y * y

    tangent = cr.tensor(W)
    got = cr.jvp(inplace, (cr.tensor(X),), (tangent,))
    want = cr.jvp(out_of_place, (cr.tensor(X),), (tangent,))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_a_buffer_written_row_by_row_from_its_previous_row_as_torch():
    def fn(L, x, w):
        h = L.zeros(6, 4, dtype=L.float64)
        h[0] = x[0]
        for t in range(1, 6):
            h[t] = (h[t - 1] + w[t % 3]).tanh() * x[t % 3]  # add saves nothing of h
        return h

    _same_as_torch(fn)


def test_tensors_with_views_still_pickle_and_copy():
    import copy
    import pickle

    t = cr.tensor(X)
    row = t[1]
    for clone in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t), copy.copy(t)):
        np.testing.assert_array_equal(clone.numpy(), X)
    assert row.shape == (4,)


# ----- in-place shape changes (unsqueeze_, t_, transpose_, squeeze_, resize_) meet views -----
def _cat(L, *ts):
    return L.cat([t.reshape(-1) for t in ts])


def _plain(L, x):
    return L.tensor(X.copy())  # resize_ wants a tensor that needs no gradient, as in PyTorch


SHAPE_CHANGES = {
    # An op recorded before the change (the add saved nothing) keeps the shape it used.
    "add_then_base_unsqueeze_": lambda L, y, w: (lambda z: (y.unsqueeze_(0), z * y[0])[1])(y + 1),
    # A view's own shape change is replayed when it is written, and when its base is read.
    "view_unsqueeze_then_add_": lambda L, y, w: _write(y, lambda y: y[0].unsqueeze_(0).add_(w[0])),
    "view_t_then_row_mul_": lambda L, y, w: _write(y, lambda y: y.T.t_()[0].mul_(w[0])),
    "view_squeeze_then_mul_": lambda L, y, w: _write(y, lambda y: y[:1].squeeze_(0).mul_(w[1])),
    "view_transpose_then_base_add_": lambda L, y, w: (
        lambda v: (v.transpose_(0, 1), y.add_(w), v * v)[2]
    )(y[:, 1:3]),
    # A view taken before its base's shape change keeps the same elements (memory, not recipe).
    "base_transpose_then_view_mul_": lambda L, y, w: (
        lambda v: (y.transpose_(0, 1), v.mul_(w[0]), _cat(L, y * y, v))[2]
    )(y[1]),
    "base_unsqueeze_then_view_mul_": lambda L, y, w: (
        lambda v: (y.unsqueeze_(0), v.mul_(w[2]), _cat(L, y * y, v))[2]
    )(y[1]),
    "base_t_then_base_write_view_read": lambda L, y, w: (
        lambda v: (y.t_(), y[0].mul_(w[0, :3]), v * v)[2]
    )(y[1]),
    "base_unsqueeze_squeeze_two_views": lambda L, y, w: (
        lambda a, b: (
            y.unsqueeze_(1),
            y[0, 0].add_(w[0]),
            y.squeeze_(),
            b.mul_(w[1, 1:]),
            a[1:] * b[0],
        )[4]
    )(y[0], y[1:, 1:]),
    # A node that used the view between a write and the transpose_ gets the view as it was then.
    "view_used_between_base_add_and_t_": lambda L, y, w: (
        lambda v: (y.add_(w), (lambda z: (y.t_(), v.mul_(w[0]), _cat(L, z, y, v))[2])(v * 3))[1]
    )(y[1]),
    # A view whose base was written since is rebased before its own shape changes.
    "base_written_then_view_unsqueeze_": lambda L, y, w: (
        lambda v: (y.add_(w), v.unsqueeze_(0), _cat(L, y * y, v * v))[2]
    )(y.T),
    # A shape change that changes nothing is recorded all the same (a node of its own).
    "squeeze_of_nothing_between_writes": lambda L, y, w: (
        lambda z: (y.squeeze_(), y.mul_(w), y.unsqueeze_(0), _cat(L, z, y * y))[3]
    )(y + 1),
    "empty_view_unsqueeze_": lambda L, y, w: (
        lambda v: (v.mul_(w[:0]), v.unsqueeze_(0), _cat(L, y * y, v))[2]
    )(y[3:]),
    "view_of_view_after_base_transpose_": lambda L, y, w: (
        lambda v: (y.transpose_(0, 1), v[0].add_(w[0]), _cat(L, y * y, v))[2]
    )(y[1:]),
    # The base's gradient arrives transposed (not C-ordered): the region is still zeroed in it.
    "flat_view_write_then_transposed_use": lambda L, y, w: (
        y.view(12)[2:5].mul_(w[0, :3]),
        y.T,
    )[1],
    "resize_view_then_mul_": lambda L, y, w: (
        lambda p: (lambda v: (v.resize_(2), v.mul_(w[0, :2]), p * y)[2])(p[0])
    )(_plain(L, y)),
    # A copy (its memory was not in C order), off its base's storage: the base's write skips it.
    "resize_transposed_view_then_base_add_": lambda L, y, w: (
        lambda p: (lambda v: (v.resize_(12), p.add_(w), p * y)[2])(p.T)
    )(_plain(L, y)),
    "resize_base_then_view_mul_": lambda L, y, w: (
        lambda p: (lambda v: (p.resize_(2, 3), v.mul_(w[0, :3]), _cat(L, p * y[:2, :3], v))[2])(
            p[0, :3]
        )
    )(_plain(L, y)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CHANGES))
def test_in_place_shape_changes_with_views_as_torch(name):
    _same_as_torch(lambda L, x, w: SHAPE_CHANGES[name](L, x * 1, w))


def test_in_place_shape_changes_through_views_pass_gradcheck():
    def fn(x, w):
        y = x * 1
        v = y[1]
        y.transpose_(0, 1)
        v.mul_(w[0])
        u = y[0]
        u.unsqueeze_(0)
        u.add_(w[1, :3])
        return y * y

    x, w = (cr.tensor(a, requires_grad=True) for a in (X, W))
    assert cr.gradcheck(fn, (x, w))


def test_shape_changed_under_no_grad_after_use_as_torch():
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        z = x + 1
        with lib.no_grad():
            x.unsqueeze_(0)  # a leaf: its gradient takes its new shape, as in PyTorch
        z.sum().backward()
        assert tuple(x.grad.shape) == (1, 3, 4)
        y = lib.tensor(X, requires_grad=True) * 1
        with lib.no_grad():
            y.t_()
        words = "given a new shape in place" if lib is cr else "compatible with"
        with pytest.raises(RuntimeError, match=words):
            (y * lib.tensor(W.T)).sum().backward()


def test_a_saved_value_reshaped_in_place_is_refused_as_torch():
    for lib in (cr, torch):
        y = lib.tensor(X, requires_grad=True) * 1
        z = y * y
        y.unsqueeze_(0)
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation"):
            z.sum().backward()


def test_t_of_a_vector_counts_as_a_write_as_torch():
    for lib in (cr, torch):
        y = lib.tensor(X[0], requires_grad=True) * 1
        z = y * y
        assert y.t_() is y and y._version == 1
        with pytest.raises(RuntimeError, match=r"modified by an in ?-?place operation"):
            z.sum().backward()


def test_a_view_of_a_base_grown_by_resize_is_refused_with_recording():
    # PyTorch's view follows its base's reallocated storage; a NumPy array cannot grow in place.
    p = cr.tensor(X.copy())
    v = p[1]
    p.resize_(20)
    with pytest.raises(RuntimeError, match=r"mul_: .*resize"):
        v.mul_(cr.tensor(W[0], requires_grad=True))


def test_second_order_through_a_view_of_a_transposed_base_as_torch():
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        y = x * x
        v = y[:, 1]
        y.transpose_(0, 1)
        v.mul_(w[:, 0])
        y.unsqueeze_(0)
        (gx,) = lib.autograd.grad((y * y).sum() + (v**3).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        results.append([t.detach().numpy().copy() for t in (gx, x.grad, w.grad)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
