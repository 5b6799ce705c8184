"""Dropout2d on inputs that are not 3-D or 4-D, against the installed PyTorch: the same
warnings, and one mask value per (n, c) (elementwise for a 2-D input)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _with_warnings(fn):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in got if issubclass(w.category, UserWarning)], got


def _both_raise(cfn, tfn, match):
    with pytest.raises(Exception) as want:
        tfn()
    with pytest.raises(want.type, match=match):
        cfn()


# ----- Dropout2d on inputs that are not 3-D or 4-D -----
def _torch_warnings(fn):
    return _with_warnings(fn)[1]


@pytest.mark.parametrize("shape", [(6, 40), (2, 3, 50), (2, 3, 2, 2, 5)])
def test_dropout2d_on_other_ranks_as_torch(shape):
    """torch 2.13 warns (2-D, 5-D: deprecated; 3-D: read as (N, C, L)) and drops one mask
    value per (n, c): elementwise for a 2-D input."""
    x = np.random.default_rng(7).uniform(1, 2, size=shape)
    cr.manual_seed(0)
    y, msgs, got = _with_warnings(lambda: cr.nn.Dropout2d(0.5)(cr.tensor(x)))
    assert msgs == _torch_warnings(lambda: torch.nn.Dropout2d(0.5)(torch.tensor(x)))
    assert got[0].filename == __file__
    ratio = (y.numpy() / x).reshape(shape[0], shape[1], -1)
    assert set(np.unique(ratio)) == {0.0, 2.0}
    np.testing.assert_array_equal(ratio, np.broadcast_to(ratio[..., :1], ratio.shape))
    # In evaluation mode the same warning, and the identity.
    m = cr.nn.Dropout2d(0.5).eval()
    out, msgs, _ = _with_warnings(lambda: m(cr.tensor(x)))
    assert msgs == _torch_warnings(lambda: torch.nn.Dropout2d(0.5).eval()(torch.tensor(x)))
    np.testing.assert_array_equal(out.numpy(), x)


def test_dropout2d_on_1d_input_as_torch():
    """No channel axis: refused (RuntimeError, as torch) only when something would be dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, training in ((0.5, False), (0.0, True), (1.0, True)):
            want = TF.dropout2d(torch.ones(3), p, training).numpy()
            np.testing.assert_array_equal(F.dropout2d(cr.ones(3), p, training).numpy(), want)
        _both_raise(lambda: F.dropout2d(cr.ones(3), 0.5), lambda: TF.dropout2d(torch.ones(3), 0.5),
                    "Feature dropout requires at least 2 dimensions in the input")  # fmt: skip
