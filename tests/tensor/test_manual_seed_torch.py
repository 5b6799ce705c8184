"""cr.manual_seed and cr.Generator().manual_seed take the seeds torch.manual_seed takes."""

from __future__ import annotations

import pytest
import torch

import chainrule as cr


@pytest.mark.parametrize("seed", [0, -1, -(2**63), 2**63, 2**64 - 1, 1.5])
def test_pytorchs_seeds_are_taken_and_stored_as_pytorch_stores_them(seed):
    if isinstance(seed, float):  # torch.manual_seed takes int(seed); a Generator, integers only
        with pytest.raises(RuntimeError):
            torch.Generator().manual_seed(seed)
        with pytest.raises(RuntimeError, match="expected an integer, but got float"):
            cr.Generator().manual_seed(seed)
    else:
        g = cr.Generator().manual_seed(seed)
        assert g.initial_seed() == torch.Generator().manual_seed(seed).initial_seed()
    cr.manual_seed(seed)
    a = cr.rand(3)
    cr.manual_seed(seed)
    assert cr.equal(a, cr.rand(3))


def test_negative_seeds_are_their_twos_complement():
    cr.manual_seed(-1)
    a = cr.rand(4)
    cr.manual_seed(2**64 - 1)
    assert cr.equal(a, cr.rand(4))


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1])
def test_seeds_pytorch_refuses_are_refused(seed):
    with pytest.raises(ValueError):
        torch.manual_seed(seed)
    with pytest.raises(ValueError, match=r"outside \[-2\*\*63, 2\*\*64 - 1\]"):
        cr.manual_seed(seed)
    with pytest.raises(ValueError, match="outside"):
        cr.Generator().manual_seed(seed)
