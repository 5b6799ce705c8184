"""logical_and/or/xor/not on truth values (nonzero is true), as functions and methods, against
the installed PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def test_logical_ops_as_torch():
    """logical_and/or/xor/not on truth values (nonzero is true), functions and methods."""
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    b = np.array([[1, 0, 2], [0, 5, 0]])
    ca, cb, ta, tb = cr.tensor(a), cr.tensor(b), torch.tensor(a), torch.tensor(b)
    for name in ("logical_and", "logical_or", "logical_xor"):
        got, want = getattr(cr, name)(ca, cb), getattr(torch, name)(ta, tb)
        assert got.dtype == cr.bool
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(getattr(ca, name)(cb).numpy(), want.numpy())
    np.testing.assert_array_equal(cr.logical_not(ca).numpy(), torch.logical_not(ta).numpy())
    np.testing.assert_array_equal(cb.logical_not().numpy(), tb.logical_not().numpy())
