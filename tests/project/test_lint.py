"""ruff's lint and format checks, run by the test command so that CI runs them (the version is
pinned in pyproject's dev extra, so that the result does not depend on the day)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")
PYTHON_DIRS = ["chainrule", "tests", "examples", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    assert RUFF.exists(), f"ruff is not installed beside {sys.executable}: run bash setup.sh --dev"
    return subprocess.run([str(RUFF), *args, *PYTHON_DIRS], cwd=ROOT, capture_output=True,
                          text=True)  # fmt: skip


def test_ruff_check_passes():
    result = _ruff("check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes():
    result = _ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
