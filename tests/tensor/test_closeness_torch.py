"""cr.isclose, cr.allclose and cr.equal (and their Tensor methods) against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

INF, NAN = float("inf"), float("nan")
CASES = [  # (a, b, dtype)
    ([1.0, 2.0, 3.0], [1.0 + 1e-6, 2.1, 3.0], "float32"),
    ([1.0, NAN, INF, -INF, INF, 0.0], [1.00001, NAN, INF, INF, 1e30, 1e-9], "float64"),
    ([0.0, 1e-8, -1e-8], [0.0, 0.0, 1e-8], "float32"),
    ([1, 2, 3], [1, 3, 3], "int64"),
    ([True, False], [True, True], "bool"),
]
KW = [{}, {"rtol": 0, "atol": 0}, {"rtol": 0.1}, {"atol": 1.5}, {"equal_nan": True},
      {"atol": INF}]  # fmt: skip


@pytest.mark.parametrize("kw", KW, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items()))
@pytest.mark.parametrize("a,b,dtype", CASES, ids=lambda c: str(c)[:12])
def test_isclose_and_allclose_agree_with_torch(a, b, dtype, kw):
    ta, tb = (
        torch.tensor(a, dtype=getattr(torch, dtype)),
        torch.tensor(b, dtype=getattr(torch, dtype)),
    )
    ca, cb = cr.tensor(np.array(a, dtype=dtype)), cr.tensor(np.array(b, dtype=dtype))
    want = torch.isclose(ta, tb, **kw).numpy()
    got = cr.isclose(ca, cb, **kw)
    assert got.dtype == cr.bool and np.array_equal(got.numpy(), want)
    assert np.array_equal(ca.isclose(cb, **kw).numpy(), want)
    assert cr.allclose(ca, cb, **kw) is torch.allclose(ta, tb, **kw)
    assert ca.allclose(cb, **kw) is torch.allclose(ta, tb, **kw)


def test_isclose_broadcasts_and_refuses_what_torch_refuses():
    a, b = np.ones((1, 3), np.float32), np.ones((4, 1), np.float32)
    assert (
        cr.isclose(cr.tensor(a), cr.tensor(b)).shape
        == torch.isclose(torch.tensor(a), torch.tensor(b)).shape
    )
    with pytest.raises(RuntimeError, match="same dtype, got int64 and float32"):
        cr.isclose(cr.tensor([1, 2]), cr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="rtol must be at least 0, got -1"):
        cr.isclose(cr.tensor([1.0]), cr.tensor([1.0]), rtol=-1)
    with pytest.raises(ValueError):
        cr.allclose(cr.ones(2), cr.ones(3))


@pytest.mark.parametrize(
    "a,b",
    [
        (np.array([1, 2]), np.array([1.0, 2.0])),  # dtypes may differ
        (np.ones(2), np.ones((1, 2))),  # shapes may not
        (np.array([NAN]), np.array([NAN])),  # NaN equals nothing
        (np.array([1.0, 2.0]), np.array([1.0, 2.5])),
        (np.zeros((0, 3)), np.zeros((0, 3))),
    ],
)
def test_equal_agrees_with_torch(a, b):
    want = torch.equal(torch.from_numpy(a), torch.from_numpy(b))
    assert cr.equal(cr.from_numpy(a), cr.from_numpy(b)) is want
    assert cr.from_numpy(a).equal(cr.from_numpy(b)) is want
