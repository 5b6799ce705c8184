"""The legacy loss keywords ``size_average=`` and ``reduce=`` (functional and module forms, in
PyTorch's positions) against the installed PyTorch: the same reductions and warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_compare import close as _close
from torch_compare import pair_of as _pair

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ----- the legacy loss keywords size_average= and reduce= -----
def _loss_inputs(name, rng):
    x = rng.normal(size=(4, 3))
    if name in ("cross_entropy", "nll_loss"):
        return x, rng.integers(0, 3, size=4)
    if name == "binary_cross_entropy":
        return rng.uniform(0.1, 0.9, size=(4, 3)), rng.uniform(0, 1, size=(4, 3))
    if name == "kl_div":
        return np.log(rng.uniform(0.1, 1, size=(4, 3))), rng.uniform(0, 1, size=(4, 3))
    return x, rng.normal(size=(4, 3))


LOSSES = {
    "mse_loss": "MSELoss",
    "l1_loss": "L1Loss",
    "smooth_l1_loss": "SmoothL1Loss",
    "cross_entropy": "CrossEntropyLoss",
    "nll_loss": "NLLLoss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "kl_div": "KLDivLoss",
}
FLAGS = [(a, b) for a in (None, True, False) for b in (None, True, False) if (a, b) != (None, None)]


def _with_warnings(fn):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in got if issubclass(w.category, UserWarning)], got


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("flags", FLAGS, ids=str)
@pytest.mark.parametrize("name", list(LOSSES))
def test_legacy_loss_flags_as_torch(name, flags, form):
    """Functional and module forms: the reduction that torch's legacy_get_string picks (values
    and gradients), torch's warning text, attributed to the caller's line."""
    size_average, reduce = flags
    x, t = _loss_inputs(name, np.random.default_rng(4))
    kw = {"size_average": size_average, "reduce": reduce}
    (cx, tx) = _pair(x)
    if form == "functional":
        cfn = lambda: getattr(F, name)(cx, cr.tensor(t), **kw)  # noqa: E731
        tfn = lambda: getattr(TF, name)(tx, torch.tensor(t), **kw)  # noqa: E731
    else:
        cfn = lambda: getattr(cr.nn, LOSSES[name])(**kw)(cx, cr.tensor(t))  # noqa: E731
        tfn = lambda: getattr(torch.nn, LOSSES[name])(**kw)(tx, torch.tensor(t))  # noqa: E731
    cy, cmsg, got = _with_warnings(cfn)
    ty, tmsg, _ = _with_warnings(tfn)
    # kl_div adds its own warning about 'mean'; the legacy one comes first in both.
    assert cmsg[:1] == tmsg[:1] and "size_average and reduce args" in cmsg[0]
    assert got[0].filename == __file__
    _close(cy, ty)
    u = np.random.default_rng(5).normal(size=cy.shape)
    cy.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    _close(cx.grad, tx.grad)


def test_legacy_loss_flags_in_torch_positions():
    """size_average and reduce sit where torch puts them, so positional calls mean the same."""
    rng = np.random.default_rng(6)
    x, t = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    w = rng.uniform(0.5, 2, size=4)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        c = F.cross_entropy(cr.tensor(x), cr.tensor(t), cr.tensor(w), False, -100, True)
    with pytest.warns(UserWarning):
        want = TF.cross_entropy(torch.tensor(x), torch.tensor(t), torch.tensor(w), False, -100)
    _close(c, want)
    with pytest.warns(UserWarning, match="reduction='none'"):
        m = cr.nn.MSELoss(True, False)
    assert m.reduction == "none"
    assert F.legacy_reduction(None, None, "sum") == "sum"  # no flag: reduction as given
