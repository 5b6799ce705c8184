"""Shared fixtures: float64 by default where gradients are checked, and seeded randomness.

The tests live in folders by concern (tests/ops, tests/autograd, ...), without ``__init__.py``:
pytest's default import mode (prepend) imports each test file under its basename, so basenames
are unique across the folders (tests/project/test_tests_layout.py checks it). The shared helpers
(op_table.py, op_table_layers.py, docs_blocks.py) stay here in tests/, which is put on sys.path
below so that ``import op_table`` works from every folder, whichever test file pytest is given.
A few test files import helpers from another one (``from test_resume_faults import outputs``):
every concern folder is put on sys.path too, so that such an import finds the file by its
basename whichever folder it is in and whatever order pytest imports them in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

_TESTS = Path(__file__).resolve().parent
for _folder in [_TESTS, *sorted(p.parent for p in _TESTS.glob("*/test_*.py"))]:
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))


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
