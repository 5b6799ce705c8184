"""The layout of tests/ itself: every test file sits in a folder named for its concern, and
basenames are unique across folders (pytest's default import mode imports a test file under its
basename, so two files of one name would collide; conftest.py relies on it too)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_files_sit_in_concern_folders():
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert loose == [], f"test files directly under tests/ (put them in a concern folder): {loose}"


def test_test_file_basenames_are_unique():
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert {n: c for n, c in names.items() if c > 1} == {}
