"""Keeps docs/coming-from-pytorch.md true: every Python block on the page runs as written."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "coming-from-pytorch.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_page_has_examples():
    assert len(BLOCKS) >= 3


def test_examples_run_in_order():
    """The blocks build on each other (as a reader runs them), so they share one namespace."""
    namespace: dict = {}
    for i, block in enumerate(BLOCKS):
        exec(compile(block, f"{PAGE.name}[block {i}]", "exec"), namespace)
