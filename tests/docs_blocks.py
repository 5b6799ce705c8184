"""Finds the fenced blocks of the Markdown pages and runs them as a reader would.

The convention, for every page (README.md and docs/*.md):

- Every fenced block names its language. ``python``, ``bash``, ``sh`` and ``console`` blocks run;
  ``text`` blocks (file contents, pasted output, a traceback) do not.
- A page's blocks run in order in one temporary folder laid out like a checkout after
  ``bash setup.sh`` (``.venv/bin`` holding ``python`` and ``chainrule``, put on PATH as the README
  says; ``examples/`` and ``benchmarks/`` copied, ``docs/img/`` empty), so a later block may read
  what an earlier one wrote, as it would for a reader going down the page.
- A page's ``python`` blocks share one namespace, in one interpreter: a reader pastes them into
  one session, and later blocks use the names and imports of earlier ones (``cr``).
- A ``bash``/``sh`` block is a list of commands (a trailing ``\\`` continues a line); a
  ``console`` block is commands (``$ ...``) each followed by lines of its output, where ``...``
  stands for lines left out. Each shown line must appear in the output, in order, spaces compared
  loosely. A command exits with 0, or with 2 where its shown output has an ``error:`` line. The
  commands of one block run in one shell, so ``export`` and ``&``/``wait`` work.
- An HTML comment right before a block changes how it is checked (invisible on the page):
  ``<!-- docs-test: skip REASON -->`` does not run it (rare: it must say why);
  ``<!-- docs-test: shorten `OLD` -> `NEW`; ... -->`` runs the block with each OLD replaced by
  NEW (each OLD must occur), so a long run is checked with fewer epochs or examples and its
  flags and paths are still exercised; ``<!-- docs-test: numbers vary -->`` (alone or after
  ``shorten ...;``) compares shown output with every number masked, for timings;
  ``output of the full run`` (after ``shorten ...;``) checks the exit codes only, where the
  shown output is what the long run printed (a trained captioner's sentence).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGS = {"python", "bash", "sh", "console"}
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_MARK = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->\s*\Z", re.S)
_SUB = re.compile(r"`([^`]+)`\s*->\s*`([^`]*)`")
_NUMBER = re.compile(r"[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
_PROMPT = "$ "


@dataclass
class Block:
    """One fenced block: its page, language, text, first line and the marker before it."""

    page: str
    lang: str
    body: str
    line: int
    skip: str | None = None
    subs: list[tuple[str, str]] = field(default_factory=list)
    numbers_vary: bool = False
    output_unchecked: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line} ({self.lang or 'no language'})"

    def shortened(self) -> str:
        """The text to run: the body with the marker's substitutions applied."""
        text = self.body
        for old, new in self.subs:
            assert old in text, f"{self.where}: docs-test shorten: {old!r} is not in the block"
            text = text.replace(old, new)
        return text


def _marker(block: Block, comment: str) -> None:
    """Reads ``skip REASON`` / ``shorten `A` -> `B`; ...`` / ``numbers vary`` into the block.

    Mistakes are collected in ``block.errors`` (a test reports them) rather than raised, so that
    a bad marker never stops the collection of the whole suite.
    """
    if comment.startswith("skip"):
        block.skip = " ".join(comment[len("skip") :].strip(" :()").split())
        if len(block.skip.split()) < 3:
            block.errors.append(f"{block.where}: a skip must say why: {comment!r}")
        return
    for part in re.split(r";(?=(?:[^`]*`[^`]*`)*[^`]*\Z)", comment):
        part = part.strip()
        if part == "numbers vary":
            block.numbers_vary = True
        elif part.startswith("output of the full run"):
            block.output_unchecked = True
        elif part.startswith("shorten") or part.startswith("`"):
            subs = _SUB.findall(part)
            if not subs:
                block.errors.append(f"{block.where}: shorten needs `OLD` -> `NEW`: {part!r}")
            block.subs.extend(subs)
        elif part:
            block.errors.append(f"{block.where}: unknown docs-test marker {part!r}")


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order, with the marker right before each one."""
    text = page.read_text(encoding="utf-8")
    name = str(page.relative_to(ROOT))
    out = []
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        block = Block(name, m.group(1).strip(), m.group(2), line)
        head = text[: m.start()]
        before = _MARK.match(head, head.rfind("<!--")) if "<!--" in head else None
        if before:
            _marker(block, before.group(1).strip())
        out.append(block)
    return out


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def workdir(base: Path, mplconfig: Path) -> tuple[Path, dict[str, str]]:
    """A folder laid out like a checkout after set-up, and the environment to run in it."""
    for name in ("examples", "benchmarks"):
        shutil.copytree(ROOT / name, base / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("chainrule", "tests", "pyproject.toml", "setup.sh"):
        (base / name).symlink_to(ROOT / name)
    (base / "docs" / "img").mkdir(parents=True)
    bin_dir = base / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    # The venv's two entry points, running this checkout's chainrule with the test's interpreter.
    for name, args in (("python", ""), ("chainrule", " -m chainrule.cli.main")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec {sys.executable}{args} "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(base),
        "MPLCONFIGDIR": str(mplconfig),
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "CHAINRULE_DATA"):
        if name in os.environ:
            env[name] = os.environ[name]
    return base, env


def squeeze(line: str, numbers_vary: bool = False) -> str:
    line = " ".join(line.split())
    return _NUMBER.sub("#", line) if numbers_vary else line


def missing_lines(shown: list[str], output: str, numbers_vary: bool = False) -> str | None:
    """The first shown line not found in ``output`` in order (None if all are there)."""
    got = [squeeze(x, numbers_vary) for x in output.splitlines()]
    k = 0
    for line in shown:
        if line.strip() in ("...", ""):
            continue
        want = squeeze(line, numbers_vary)
        while k < len(got) and got[k] != want:
            k += 1
        if k == len(got):
            return line
        k += 1
    return None


def commands(block: Block, text: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) pairs of a shell or console block's text."""
    lines = text.rstrip("\n").splitlines()
    out: list[tuple[str, list[str]]] = []
    if block.lang == "console":
        for line in lines:
            if line.startswith(_PROMPT):
                out.append((line[len(_PROMPT) :], []))
            else:
                assert out, f"{block.where}: a console block starts with '$ ': {line!r}"
                out[-1][1].append(line)
        return out
    pending = ""
    for line in lines:
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            out.append((pending, []))
        pending = ""
    return out


def run_shell(block: Block, cwd: Path, env: dict[str, str], timeout: float) -> list[str]:
    """Runs a shell or console block in one bash; returns what went wrong (empty: all fine)."""
    cmds = commands(block, block.shortened())
    script = ["exec 2>&1 </dev/null"]
    for i, (cmd, _) in enumerate(cmds):
        script += [f"echo '@@docs-test {i}'", cmd, f'echo "@@docs-test-rc {i} $?"']
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    parts = re.split(r"^@@docs-test (\d+)\n", run.stdout, flags=re.M)
    outputs = {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    problems = []
    for i, (cmd, shown) in enumerate(cmds):
        out = outputs.get(i, "")
        rc = re.search(rf"^@@docs-test-rc {i} (\d+)$", out, re.M)
        out = out[: rc.start()] if rc else out
        want = 2 if any("error:" in s for s in shown) else 0
        if rc is None or int(rc.group(1)) != want:
            got = rc.group(1) if rc else "none"
            problems.append(f"{block.where}: `{cmd}` exited {got}, not {want}:\n{out[-3000:]}")
            continue
        line = None if block.output_unchecked else missing_lines(shown, out, block.numbers_vary)
        if line is not None:
            problems.append(f"{block.where}: `{cmd}` did not print {line!r}:\n{out[-3000:]}")
    return problems


_DRIVER = """
import sys, traceback
ns = {"__name__": "__main__"}
for path, where in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        exec(compile(open(path, encoding="utf-8").read(), where, "exec"), ns)
    except BaseException:
        print("@@docs-test-failed", where)
        traceback.print_exc(file=sys.stdout)
        sys.exit(1)
    print("@@docs-test-ok", where)
"""


def run_python(
    todo: list[Block], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[list[str], list[str]]:
    """Runs a page's python blocks in order in one namespace: (blocks that ran, problems)."""
    args = []
    for i, block in enumerate(todo):
        path = cwd / f".docs_block_{i}.py"
        path.write_text(block.shortened(), encoding="utf-8")
        args += [str(path), block.where]
    run = subprocess.run(
        [sys.executable, "-c", _DRIVER, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    ok = re.findall(r"^@@docs-test-ok (.*)$", run.stdout, re.M)
    if run.returncode == 0:
        return ok, []
    return ok, [f"python blocks of {todo[0].page}:\n{(run.stdout + run.stderr)[-4000:]}"]
