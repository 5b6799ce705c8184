"""The size budgets, kept by a test: every file of chainrule/ holds at most 500 lines and every
function (or method) at most 60, counted from its ``def`` line to its last line, docstring
included and decorators not (STYLE.md: files by concern, each small; the last rounds held both).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chainrule"
FILE_LINES = 500
FUNCTION_LINES = 60

# Over budget today; the test fails when an entry no longer occurs (remove it: the list only
# shrinks, and ends empty).
KNOWN = {
    "viz/draw.py:draw",  # 65 lines, 47 of them the docstring of its 10 arguments
}


def over_budget(path: Path, source: str) -> list[str]:
    """``file`` if the file is over FILE_LINES lines, ``file:function`` (``Class.method`` for a
    method) for each function over FUNCTION_LINES lines."""
    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    out = [rel] if len(source.splitlines()) > FILE_LINES else []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                if child.end_lineno - child.lineno + 1 > FUNCTION_LINES:
                    out.append(f"{rel}:{name}")
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return out


def test_files_and_functions_keep_their_budgets():
    found = {f for p in sorted(ROOT.rglob("*.py")) for f in over_budget(p, p.read_text())}
    new, gone = sorted(found - KNOWN), sorted(KNOWN - found)
    assert not new, f"over {FILE_LINES} lines a file or {FUNCTION_LINES} a function: {new}"
    assert not gone, f"back within budget, remove from KNOWN: {gone}"


def test_the_budget_counts_what_it_names():
    body = "\n".join(f"    x{i} = {i}" for i in range(59))
    assert over_budget(ROOT / "a.py", f"def f():\n{body}\n") == []  # 60 lines
    assert over_budget(ROOT / "a.py", f"def f():\n{body}\n    y = 0\n") == ["a.py:f"]  # 61
    lines = "\n".join(f"        x{i} = {i}" for i in range(60))  # def + 60: 61 lines
    method = f"class C:\n    @property\n    def m(self):\n{lines}\n"
    assert over_budget(ROOT / "b.py", method) == ["b.py:C.m"]
    assert over_budget(ROOT / "c.py", "x = 1\n" * 501) == ["c.py"]
    assert over_budget(ROOT / "c.py", "x = 1\n" * 500) == []
