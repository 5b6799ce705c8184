"""The porting check: public PyTorch programs (tests/porting/, each naming the one it follows) run
with only their imports changed and print the same numbers as under PyTorch."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))  # harness.py beside this file
import harness

# What stops a program today, each a gap that a branch of issue 27 closes (see README.md beside
# the programs). Strict: once the gap is closed the program passes, the mark fails the run, and
# the mark is removed.
MISSING = {}


def _marked(names):
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=MISSING[n]))
        if n in MISSING
        else n
        for n in names
    ]


def test_every_program_is_checked():
    assert len(harness.PROGRAMS) >= 20
    assert set(MISSING) <= set(harness.PROGRAMS)


@pytest.mark.parametrize("name", harness.PROGRAMS)
def test_only_the_imports_change(name):
    source = (harness.HERE / f"{name}.py").read_text()
    changed = harness.changed_lines(source)
    assert changed, "a program without a PyTorch import checks nothing"
    for before, after in changed:
        assert before.startswith(("import torch", "from torch")), before
        assert after.startswith(("import chainrule", "from chainrule")), after


@pytest.mark.parametrize("name", _marked(harness.PROGRAMS))
def test_the_program_prints_what_pytorch_prints(name):
    want, got, same = harness.compare(name, steps=300)
    assert len(harness.numbers(want)) >= 3, want
    assert same, f"torch printed:\n{want}\nchainrule printed:\n{got}"
