"""``sort``, ``topk`` and ``median`` (values, indices and gradients), ``any``/``all`` with a
dim, and a reduction's result as a NumPy array, compared with PyTorch on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


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
