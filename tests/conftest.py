"""Shared fixtures: float64 by default where gradients are checked, and seeded randomness."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture
def float64():
    """Makes Python floats and new parameters float64 for the test, then restores the default."""
    prev = cr.get_default_dtype()
    cr.set_default_dtype(cr.float64)
    yield
    cr.set_default_dtype(prev)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator, so every test draws the same numbers on every run."""
    return np.random.default_rng(0)
