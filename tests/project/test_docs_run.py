"""Every command and code block of README.md and docs/*.md runs as written.

The conventions (languages, one folder and one Python namespace per page, console output
checked in order, the ``<!-- docs-test: ... -->`` markers for long runs) are in
tests/docs_blocks.py. A page's shell and console blocks run first, in order, then its python
blocks, in order.
"""

from __future__ import annotations

import pytest
from docs_blocks import (
    RUN_LANGS,
    Block,
    blocks,
    commands,
    missing_lines,
    pages,
    run_python,
    run_shell,
    workdir,
)

PAGES = pages()
ALL = [b for page in PAGES for b in blocks(page)]

# Blocks that do not run as written on a page this branch may not edit: (page, a line of the
# block) -> why. Each must still fail here; once it runs, the entry has to go.
KNOWN_BROKEN: dict[tuple[str, str], str] = {}


# Shell blocks that passed on an earlier page, by text: a block repeated word for word on
# another page (README's and explain.md's redraw commands) runs once.
_PASSED: set[str] = set()


def _known(block) -> str | None:
    for (page, line), why in KNOWN_BROKEN.items():
        if block.page == page and line in block.body:
            return why
    return None


def test_every_block_names_its_language():
    """An unnamed block would escape the check; text, output and file contents say ``text``."""
    unnamed = [b.where for b in ALL if not b.lang]
    assert not unnamed, f"fenced blocks without a language: {unnamed}"
    unknown = {b.lang for b in ALL} - RUN_LANGS - {"text"}
    assert not unknown, f"languages the runner does not know: {unknown}"


def test_markers_are_well_formed():
    """A marker that does not parse, or a shorten whose text is not in its block, is stale."""
    problems = [e for b in ALL for e in b.errors]
    problems += [
        f"{b.where}: {old!r} is not in the block"
        for b in ALL
        for old, _ in b.subs
        if old not in b.body
    ]
    assert not problems, problems


def test_skips_are_rare_and_say_why():
    skipped = [b for b in ALL if b.skip is not None]
    assert len(skipped) <= 3, [b.where for b in skipped]
    for b in skipped:
        assert len(b.skip.split()) >= 3, b.where


def test_the_pytorch_page_has_examples():
    """(From the former tests/test_docs_pytorch.py.)"""
    page = [b for b in ALL if b.page == "docs/coming-from-pytorch.md" and b.lang == "python"]
    assert len(page) >= 3


def test_readme_puts_the_venv_on_path():
    """The pages write ``chainrule`` and ``python``; the README says how they are found."""
    readme = (PAGES[0]).read_text(encoding="utf-8")
    assert 'export PATH="$PWD/.venv/bin:$PATH"' in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_runs_as_written(page, tmp_path, tmp_path_factory):
    todo = [b for b in blocks(page) if b.lang in RUN_LANGS and b.skip is None]
    if not todo:
        pytest.skip(f"{page.name} has no blocks to run")
    cwd, env = workdir(tmp_path, tmp_path_factory.getbasetemp() / "mpl")
    problems: list[str] = []
    for block in todo:
        if block.lang != "python" and block.body not in _PASSED:
            found = _expected(block, run_shell(block, cwd, env, timeout=300))
            problems += found
            if not found:
                _PASSED.add(block.body)
    python = [b for b in todo if b.lang == "python"]
    if python:
        ok, failed = run_python(python, cwd, env, timeout=300)
        ran = len(ok) + (1 if failed else 0)
        for block in python[:ran]:
            if block.where not in ok:
                problems += _expected(block, failed)
        problems += [f"{b.where}: not run (an earlier python block failed)" for b in python[ran:]]
    assert not problems, "\n\n".join(problems)


def _expected(block, problems: list[str]) -> list[str]:
    """The block's problems, unless it is a known one, which must then still fail."""
    why = _known(block)
    if why is None:
        return problems
    if not problems:
        return [f"{block.where} now runs: remove its KNOWN_BROKEN entry ({why})"]
    return []


def test_the_runner_checks_output_order_and_exit_codes(tmp_path):
    """The checks themselves: a shown line out of order, a wrong exit code, a stale marker."""
    assert missing_lines(["a", "...", "c"], "a\nb\nc  \n") is None
    assert missing_lines(["c", "a"], "a\nb\nc\n") == "a"
    assert missing_lines(["took 1.5 ms (2 threads)"], "took 31.25 ms (4 threads)", True) is None
    ok = Block(
        "p.md",
        "console",
        "$ echo 'a   b'\na b\n$ sh -c 'echo x: error: no; exit 2'\nx: error: no\n",
        1,
    )
    assert run_shell(ok, tmp_path, {"PATH": "/usr/bin:/bin"}, timeout=30) == []
    bad = Block("p.md", "console", "$ echo a\nb\n$ false\n", 1)
    found = run_shell(bad, tmp_path, {"PATH": "/usr/bin:/bin"}, timeout=30)
    assert "did not print 'b'" in found[0] and "exited 1, not 0" in found[1]
    script = Block("p.md", "bash", "# a comment\necho a \\\n  b\n", 1)
    assert commands(script, script.body) == [("echo a    b", [])]
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: skip -->\n```sh\nx\n```\n<!-- docs-test: shorten `y` -> `z` -->\n```sh\nx\n```\n"
    )
    first, second = _parse(page)
    assert first.errors and "must say why" in first.errors[0]
    assert second.subs == [("y", "z")] and not second.errors


def _parse(page):
    import docs_blocks as db

    root, db.ROOT = db.ROOT, page.parent
    try:
        return blocks(page)
    finally:
        db.ROOT = root
