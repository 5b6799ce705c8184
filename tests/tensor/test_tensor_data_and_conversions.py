"""PyTorch's meanings for the tensor itself (API.md version 2): ``.data`` as a Tensor sharing
storage, ``cr.Size``, 0-d tensors as Python numbers, what ``cr.tensor`` accepts and ``retain_grad``.
Each is compared with PyTorch on the same inputs. (Type promotion is in test_type_promotion.py,
sort/topk/median in tests/ops/test_sort_topk_median_torch.py.)"""

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
