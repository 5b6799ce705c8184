"""PyTorch's meanings for the tensor itself (API.md version 2): ``.data`` as a Tensor sharing
storage, ``cr.Size``, 0-d tensors as Python numbers, what ``cr.tensor`` accepts, type promotion,
``retain_grad``, and ``sort``/``topk``/``median`` with their gradients. Each is compared with
PyTorch on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


# ----- .data -----
def test_data_is_a_tensor_sharing_storage_outside_the_graph():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    d = p.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and d.grad_fn is None
    d.mul_(3)  # no error although p is a leaf that requires grad: .data is outside the graph
    np.testing.assert_array_equal(p.numpy(), [3.0, 6.0])
    assert p._version == 0  # as PyTorch: writes through .data are not counted


def test_hand_written_update_through_data_matches_torch():
    x = np.array([0.5, -1.0, 2.0])
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for t in (ours, theirs):
        for _ in range(3):
            loss = (t * t * t).sum()
            loss.backward()
            t.data -= 0.1 * t.grad.data
            t.data.clamp_(-1, 1)
            t.grad.data.zero_()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6)


def test_assigning_data_replaces_the_values():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    p.data = cr.tensor([5.0, 6.0, 7.0])
    assert p.shape == (3,) and p.requires_grad
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(TypeError, match="data: expected a Tensor"):
        p.data = [1.0]


def test_data_inside_compile_falls_back_with_the_named_reason():
    w = cr.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (w * x).sum()
        loss.backward()
        w.data -= 0.5 * w.grad.data
        w.grad = None
        return loss

    fn = cr.compile(step)
    with pytest.warns(cr.jit.CompileWarning, match=r"\.data"):
        fn(cr.ones(2))
    fn(cr.ones(2))
    np.testing.assert_allclose(w.numpy(), [0.0, 1.0])  # both steps ran, eagerly


# ----- Size -----
def test_size_is_a_tuple_with_torchs_behaviour():
    x = cr.zeros(2, 3, 4)
    s, ts = x.size(), torch.zeros(2, 3, 4).size()
    assert isinstance(s, cr.Size) and isinstance(x.shape, cr.Size)
    assert s == ts == (2, 3, 4) and s.numel() == ts.numel() == 24
    assert isinstance(s[1:], cr.Size) and s[1:] == (3, 4) and s[-1] == 4
    assert isinstance(s + (5,), cr.Size) and s + (5,) == (2, 3, 4, 5)
    assert repr(s) == "chainrule.Size([2, 3, 4])"
    assert f"{s}" == "(2, 3, 4)"  # reads as a tuple in messages
    b, *rest = x.shape
    assert b == 2 and rest == [3, 4] and x.size(1) == 3 and x.size(-1) == 4


# ----- 0-d tensors as numbers -----
def test_zero_d_tensors_convert_like_torchs():
    for v in (2.75, -3.0):
        ours, theirs = cr.tensor(v), torch.tensor(v)
        assert int(ours) == int(theirs) and float(ours) == float(theirs)
        assert f"{ours:.3f}" == f"{theirs:.3f}" and f"{ours}" == f"{theirs.item()}"
        assert complex(ours) == complex(theirs)
    i = cr.tensor(2)
    assert [10, 20, 30][i] == 30 and list(range(i)) == [0, 1] and bool(cr.tensor(0)) is False
    assert "abc"[cr.tensor(1) :] == "bc"


def test_number_conversions_refuse_what_torch_refuses():
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][cr.tensor(1.0)]
    with pytest.raises(TypeError, match="one-element"):
        int(cr.tensor([1, 2]))
    with pytest.raises(TypeError):
        f"{cr.tensor([1.0, 2.0]):.2f}"
    assert f"{cr.tensor([1.0, 2.0])}" == str(cr.tensor([1.0, 2.0]))  # no spec: str()


# ----- what cr.tensor accepts -----
@pytest.mark.parametrize(
    "bad", ["abc", ["a", "b"], np.array([1, "a"], dtype=object), [1, "a"], np.array(["x"])]
)
def test_strings_and_objects_are_a_type_error(bad):
    with pytest.raises(TypeError, match="tensor"):
        cr.tensor(bad)
    with pytest.raises((TypeError, ValueError)):
        torch.tensor(bad)


def test_a_list_of_zero_d_tensors_becomes_a_tensor():
    w = cr.tensor(2.0, requires_grad=True)
    got = cr.tensor([w * 3, cr.tensor(1.5), w])
    want = torch.tensor([6.0, 1.5, 2.0])
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.dtype == cr.float32 and not got.requires_grad  # a copy of the values, as torch
    assert cr.tensor([cr.tensor(1.0, dtype=cr.float64)]).dtype == cr.float64


# ----- type promotion -----
DT = {
    "i64": (cr.int64, torch.int64),
    "i32": (np.int32, torch.int32),
    "u8": (np.uint8, torch.uint8),
    "b": (cr.bool, torch.bool),
    "f32": (cr.float32, torch.float32),
    "f64": (cr.float64, torch.float64),
}


def _make(kind, zero_d):
    ours_dt, torch_dt = DT[kind]
    v = [1, 2, 1] if not zero_d else 1
    if ours_dt is cr.bool:
        v = [True, True, True] if not zero_d else True
    return cr.tensor(np.array(v, dtype=ours_dt)), torch.tensor(v, dtype=torch_dt)


@pytest.mark.parametrize("a", sorted(DT))
@pytest.mark.parametrize("b", sorted(DT))
@pytest.mark.parametrize("b_zero_d", [False, True])
@pytest.mark.parametrize("op", ["add", "mul", "truediv"])
def test_tensor_tensor_promotion_is_torchs(a, b, b_zero_d, op):
    (oa, ta), (ob, tb) = _make(a, False), _make(b, b_zero_d)
    if op == "add" and "b" in (a, b) and a == b:
        pytest.skip("bool + bool: torch gives bool, a logical or; not an arithmetic case")
    fn = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "truediv": lambda x, y: x / y}[op]
    got, want = fn(oa, ob), fn(ta, tb)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (a, b, op)
    assert cr.result_type(oa, ob) == got.dtype or op == "truediv"
    np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float))


@pytest.mark.parametrize("a", sorted(DT))
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_tensor_scalar_promotion_is_torchs(a, scalar):
    oa, ta = _make(a, False)
    for fn in (lambda x: x * scalar, lambda x: scalar + x, lambda x: x - scalar):
        try:
            want = fn(ta)
        except RuntimeError:  # torch refuses `-` on bool tensors: so must we
            with pytest.raises((TypeError, RuntimeError)):
                fn(oa)
            continue
        got = fn(oa)
        if want.dtype == torch.bool:
            continue
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (a, scalar)


def test_integer_tensor_times_a_float_gives_the_default_float():
    n = cr.arange(3)
    assert (n * 0.5).dtype == cr.float32 and (n / 2).dtype == cr.float32
    assert (n**0.5).dtype == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert (n * 0.5).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)


def test_promotion_keeps_the_gradient_in_its_own_dtype():
    w = cr.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = w * cr.tensor(3.0, dtype=cr.float64)  # a 0-d float64 does not lift float32
    assert y.dtype == cr.float32
    z = (w * cr.tensor([1.0, 1.0], dtype=cr.float64)).sum()  # a dimensioned float64 does
    assert z.dtype == cr.float64
    z.backward()
    assert w.grad.dtype == cr.float32
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


# ----- retain_grad -----
def test_retain_grad_keeps_a_non_leafs_gradient(rng):
    x = rng.standard_normal(4)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    results = []
    for t in (ours, theirs):
        h = t * 2
        h.retain_grad()
        k = h.tanh()
        assert h.retains_grad and not k.retains_grad
        (k * k).sum().backward()
        results.append((h.grad, t.grad, k.grad))
    (hg, tg, kg), (hg2, tg2, kg2) = results
    np.testing.assert_allclose(hg.numpy(), hg2.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tg.numpy(), tg2.numpy(), rtol=1e-12)
    assert kg is None and kg2 is None


def test_retain_grad_accumulates_over_two_backwards():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.retain_grad()
    (h * h).sum().backward(retain_graph=True)
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [12.0, 24.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0]).retain_grad()


# ----- sort, topk, median -----
def _both(rng, shape, ties=False):
    x = rng.standard_normal(shape)
    if ties:
        x = np.round(x)
    return cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _check_pair(rng, got, want, ours, theirs, indices=True):
    np.testing.assert_allclose(got.values.numpy(), want.values.detach().numpy())
    if indices:
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    u = rng.standard_normal(got.values.shape)
    (got.values * cr.tensor(u)).sum().backward()
    (want.values * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_sort_matches_torchs_stable_sort(rng, dim, descending, ties):
    ours, theirs = _both(rng, (4, 5), ties)
    got = ours.sort(dim, descending=descending)
    want = theirs.sort(dim=dim, descending=descending, stable=True)
    _check_pair(rng, got, want, ours, theirs)
    _values, indices = got  # a pair, as PyTorch's
    np.testing.assert_array_equal(cr.argsort(ours, dim, descending).numpy(), indices.numpy())


def test_sort_puts_nan_where_torch_does():
    x = np.array([2.0, np.nan, -1.0, np.nan, 0.0])
    for d in (False, True):
        got, want = cr.tensor(x).sort(descending=d), torch.tensor(x).sort(descending=d, stable=True)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


@pytest.mark.parametrize(
    "k, dim, largest", [(1, -1, True), (3, 1, True), (2, 0, False), (5, 1, False)]
)
def test_topk_matches_torch(rng, k, dim, largest):
    ours, theirs = _both(rng, (3, 5))
    _check_pair(rng, ours.topk(k, dim, largest), theirs.topk(k, dim, largest), ours, theirs)


def test_topk_out_of_range_names_the_op():
    with pytest.raises(cr.ShapeError, match=r"topk: k=6 is out of range .* size 5"):
        cr.zeros(2, 5).topk(6)


@pytest.mark.parametrize("n", [4, 5])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False)])
def test_median_with_a_dim_matches_torch(rng, n, dim, keepdim):
    ours, theirs = _both(rng, (n, n + 1))
    _check_pair(rng, ours.median(dim, keepdim), theirs.median(dim, keepdim), ours, theirs)


def test_median_of_all_elements_is_the_lower_median(rng):
    ours, theirs = _both(rng, (2, 3))
    got, want = cr.median(ours), torch.median(theirs)
    assert got.shape == () and float(got) == float(want)
    got.backward()
    want.backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    x = np.array([[1.0, np.nan, 3.0], [2.0, 0.0, 1.0]])
    got, want = cr.tensor(x).median(1), torch.tensor(x).median(1)
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())


def test_any_and_all_take_a_dim():
    x = np.array([[True, False], [True, True]])
    for dim in (0, 1):
        assert (cr.tensor(x).all(dim).numpy() == torch.tensor(x).all(dim).numpy()).all()
        assert cr.tensor(x).any(dim=dim, keepdim=True).shape == (2, 1) if dim else True


def test_a_reductions_result_converts_to_a_numpy_array():
    loss = (cr.tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    for arr in (np.array(loss), np.array(loss.data, copy=True), np.asarray(loss, dtype=np.float64)):
        assert isinstance(arr, np.ndarray) and arr.shape == () and float(arr) == 6.0
    a = cr.tensor([1.0, 2.0])
    assert np.array(a, copy=True) is not a.numpy() and np.asarray(a) is a.numpy()
