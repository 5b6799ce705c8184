"""0-d tensors as PyTorch has them (issue 27): every 0-d result holds a 0-d NumPy array, so that
in-place ops, ``.numpy()`` and saving behave as PyTorch's; the ``_``-suffixed shape methods, the
deprecated ``add_(alpha, other)``, ``dot`` and the device flags. Each case runs the same program
on chainrule and on torch (float64, same inputs) and compares values and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F

X = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])


def _pair(x=X, requires_grad=True):
    return (
        cr.tensor(x, dtype=cr.float64, requires_grad=requires_grad),
        torch.tensor(x, dtype=torch.float64, requires_grad=requires_grad),
    )


def _close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours.detach()), theirs.detach().numpy(), rtol=1e-12)


def _zero_d(t) -> None:
    """``t`` is 0-d and holds a writable 0-d ndarray, never a NumPy scalar."""
    arr = t.numpy()
    assert type(arr) is np.ndarray and arr.shape == () and arr.flags.writeable, type(arr)


# (name, program): each program takes the library (cr or torch) and an input tensor x of shape
# (2, 3) and returns a 0-d tensor.
ZERO_D = [
    ("sum", lambda lib, x: x.sum()),
    ("mean", lambda lib, x: x.mean()),
    ("max", lambda lib, x: x.max()),
    ("min", lambda lib, x: x.min()),
    ("amax", lambda lib, x: x.amax()),
    ("prod", lambda lib, x: x.prod()),
    ("norm", lambda lib, x: x.norm()),
    ("std", lambda lib, x: x.std()),
    ("var", lambda lib, x: x.var()),
    ("logsumexp", lambda lib, x: x[0].logsumexp(0)),
    ("dot", lambda lib, x: lib.dot(x[0], x[1])),
    ("matmul_1d", lambda lib, x: x[0] @ x[1]),
    ("index_ij", lambda lib, x: x[1, 2]),
    ("index_i_j", lambda lib, x: x[1][2]),
    ("mul_0d", lambda lib, x: x[0, 0] * x[1, 1]),
    ("exp_0d", lambda lib, x: x.sum().exp()),
    ("mse", lambda lib, x: lib.nn.functional.mse_loss(x, x.detach() * 2)),
    ("l1", lambda lib, x: lib.nn.functional.l1_loss(x, x.detach() * 0)),
    ("cross_entropy", lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor([2, 0]))),
    ("nll", lambda lib, x: lib.nn.functional.nll_loss(x.log_softmax(1), lib.tensor([1, 0]))),
    ("bce_logits", lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, (x.detach() > 0).double())),
]  # fmt: skip


@pytest.mark.parametrize(("name", "program"), ZERO_D, ids=[n for n, _ in ZERO_D])
def test_zero_d_results_hold_0d_arrays_and_match_torch(name, program):
    ours, theirs = _pair()
    a, b = program(cr, ours), program(torch, theirs)
    _zero_d(a)
    assert a.shape == () and tuple(b.shape) == ()
    _close(a, b)
    a.backward()
    b.backward()
    _close(ours.grad, theirs.grad)


def test_creation_and_the_engines_gradients_are_0d_arrays():
    _zero_d(cr.tensor(3.0))
    _zero_d(cr.tensor(np.float32(3.0)))
    x = cr.tensor(2.0, dtype=cr.float64, requires_grad=True)
    for _ in range(2):  # the second backward accumulates into .grad
        (x * x).backward()
    _zero_d(x.grad)
    assert float(x.grad) == 8.0
    (g,) = cr.autograd.grad(x * x, x)
    _zero_d(g)
    assert type(torch.tensor(3.0).numpy()) is type(cr.tensor(3.0).numpy())


def test_in_place_on_a_reduction_matches_torch():
    ours, theirs = _pair()
    results = []
    for x in (ours, theirs):
        s = x.sum()
        s += 1
        s *= 3
        s.backward()
        results.append((s, x.grad))
    _close(results[0][0], results[1][0])
    _close(results[0][1], results[1][1])


def test_loss_accumulated_with_plus_equals_from_zero_matches_torch():
    ours, theirs = _pair()
    grads, totals = [], []
    for lib, x in ((cr, ours), (torch, theirs)):
        loss = 0
        for k in range(3):  # from the second +=, loss is a tensor written in place
            loss += lib.nn.functional.mse_loss(x * (k + 1), x.detach())
        loss.backward()
        totals.append(loss)
        grads.append(x.grad)
    _close(totals[0], totals[1])
    _close(grads[0], grads[1])


def test_confusion_matrix_counts_in_place_as_torch():
    preds, labels = [0, 2, 1, 2, 2, 0], [0, 1, 1, 2, 0, 0]
    out = []
    for lib in (cr, torch):
        confusion = lib.zeros(3, 3, dtype=lib.int64)
        for p, t in zip(preds, labels):
            confusion[t][p] += 1
        confusion[0, 0] += 10
        out.append(confusion)
    np.testing.assert_array_equal(out[0].numpy(), out[1].numpy())


def test_an_element_is_a_0d_view_of_its_tensor_as_in_torch():
    out = []
    for lib in (cr, torch):
        x = lib.zeros(2, 3)
        v = x[1, 2]
        v.add_(5)
        x[0][1].fill_(7)
        x[1, 0] = 2  # seen through an element taken before
        w = x[1, 0]
        x[1, 0] = 4
        out.append((x, float(v), float(w)))
    np.testing.assert_array_equal(out[0][0].numpy(), out[1][0].numpy())
    assert out[0][1:] == out[1][1:] == (5.0, 4.0)


def test_saving_0d_tensors(tmp_path):
    loss = cr.tensor(X).sum()
    cr.save(loss, tmp_path / "loss.safetensors")
    back = cr.load(tmp_path / "loss.safetensors")
    _zero_d(back)
    assert float(back) == float(X.sum())
    cr.save({"epoch": 3, "loss": loss}, tmp_path / "state.safetensors")
    state = cr.load(tmp_path / "state.safetensors")
    assert state["epoch"] == 3 and float(state["loss"]) == float(X.sum())


def test_in_place_shape_methods_on_a_graph_match_torch():
    w = np.arange(6.0).reshape(3, 2) + 1
    ours, theirs = _pair()
    res = []
    for lib, x in ((cr, ours), (torch, theirs)):
        y = x * 2
        y.unsqueeze_(0)  # (1, 2, 3)
        y.transpose_(0, 2)  # (3, 2, 1)
        y.squeeze_(2)  # (3, 2)
        y.t_()  # (2, 3)
        y.t_()  # (3, 2)
        y.unsqueeze_(-1).squeeze_()
        z = (y * lib.tensor(w, dtype=lib.float64)).sum()
        z.backward()
        res.append((y, x.grad))
    assert tuple(res[0][0].shape) == tuple(res[1][0].shape) == (3, 2)
    _close(res[0][0], res[1][0])
    _close(res[0][1], res[1][1])


def test_in_place_shape_methods_without_a_graph_match_torch():
    res = []
    for lib in (cr, torch):
        x = lib.arange(6.0).reshape(2, 3)
        view = x[:]
        p = lib.ones(3, requires_grad=True)
        with lib.no_grad():
            p.unsqueeze_(0)  # a parameter reshaped outside the graph stays a leaf
        x.t_()
        x.squeeze_().unsqueeze_(1)  # (3, 1, 2)
        x.squeeze_(1)
        res.append((x, view, p.is_leaf, p.requires_grad, tuple(p.shape), x.t_() is x))
    np.testing.assert_array_equal(res[0][0].numpy(), res[1][0].numpy())
    np.testing.assert_array_equal(res[0][1].numpy(), res[1][1].numpy())
    assert res[0][2:] == res[1][2:]


@pytest.mark.parametrize("sizes", [(2, 2), (3, 2), (6,), (2, 3, 1)])
def test_resize_keeps_the_first_elements_as_torch(sizes):
    ours, theirs = cr.arange(6.0), torch.arange(6.0)
    storage = ours.numpy()
    a, b = ours.resize_(*sizes), theirs.resize_(sizes)
    assert a is ours and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.shares_memory(a.numpy(), storage)  # the same elements, as PyTorch's storage


def test_resize_to_more_elements_keeps_the_old_ones_first():
    a, b = cr.arange(4.0).resize_(2, 3), torch.arange(4.0).resize_(2, 3)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.numpy().ravel()[:4], b.numpy().ravel()[:4])
    c = cr.zeros(2, 2)
    c.resize_as_(cr.zeros(4))
    assert tuple(c.shape) == (4,)


@pytest.mark.parametrize("method", ["add_", "sub_", "add", "sub"])
def test_deprecated_alpha_first_overload_matches_torch(method):
    vals = []
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x * 1
        if lib is cr:
            with pytest.warns(UserWarning) as caught:
                y = getattr(y, method)(3, w * 2)
            # PyTorch 2.13's words (it warns once per process, so its text is copied here).
            assert str(caught[0].message) == (
                f"This overload of {method} is deprecated:\n\t{method}(Number alpha, Tensor "
                f"other)\nConsider using one of the following signatures instead:\n\t{method}"
                "(Tensor other, *, Number alpha = 1)"
            )
            assert caught[0].filename == __file__  # pointed at the user's line
        else:
            y = getattr(y, method)(3, w * 2)
        y.sum().backward()
        vals.append((y, x.grad, w.grad))
    for a, b in zip(vals[0], vals[1]):
        _close(a, b)
    with pytest.warns(UserWarning, match="This overload of add is deprecated"):
        out = cr.add(cr.zeros(3), 2, cr.ones(3))
    np.testing.assert_array_equal(out.numpy(), torch.add(torch.zeros(3), 2, torch.ones(3)))


def test_device_flags_match_torch():
    ours, theirs = cr.zeros(2), torch.zeros(2)
    for flag in ("is_cuda", "is_cpu", "is_xpu", "is_mps", "is_meta"):
        assert getattr(ours, flag) is getattr(theirs, flag), flag


def test_dot_matches_torch_for_integers():
    a, b = [1, 2, 3], [4, -5, 6]
    ours, theirs = cr.tensor(a).dot(cr.tensor(b)), torch.tensor(a).dot(torch.tensor(b))
    _zero_d(ours)
    assert ours.dtype == cr.int64 and int(ours) == int(theirs)


def test_a_plain_functional_loss_is_0d():
    _zero_d(F.mse_loss(cr.ones(3), cr.zeros(3)))
