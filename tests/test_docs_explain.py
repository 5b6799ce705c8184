"""Every console block of docs/explain.md runs as written and prints what the page shows.

A block is a command (``$ chainrule explain ...``) and the lines it prints; ``...`` stands for
lines left out. Each shown line must appear in the output, in order (spaces compared loosely,
since the page may be narrower than a table); the exit code is 0, or 2 where the block shows an
error.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "explain.md"


def _blocks() -> list[tuple[str, list[str]]]:
    text = PAGE.read_text(encoding="utf-8")
    out = []
    for body in re.findall(r"```console\n(.*?)```", text, re.S):
        lines = body.rstrip("\n").splitlines()
        assert lines[0].startswith("$ chainrule "), lines[0]
        out.append((lines[0][2:], lines[1:]))
    return out


def _squeeze(line: str) -> str:
    return " ".join(line.split())


@pytest.mark.parametrize("command, shown", _blocks(), ids=lambda v: str(v)[:60])
def test_console_block_runs_as_written(tmp_path, command, shown):
    argv = shlex.split(command)
    assert argv[0] == "chainrule"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "chainrule.cli.main", *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    error = any("error:" in line for line in shown)
    assert run.returncode == (2 if error else 0), run.stderr
    got = [_squeeze(line) for line in (run.stdout + run.stderr).splitlines()]
    k = 0
    for line in shown:
        if line.strip() in ("...", ""):
            continue
        want = _squeeze(line)
        while k < len(got) and got[k] != want:
            k += 1
        assert k < len(got), f"not in the output (in order): {line!r}"
        k += 1
