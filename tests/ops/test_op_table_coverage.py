"""Every op class of chainrule/ops is in the systematic table (tests/op_table.py), so that the
float64 gradcheck, the random-cotangent check, JVP against VJP and fan-out run on all of them.

The op classes are read from the source with ``ast`` (every class deriving from ``Op``, directly
or through another op class, that defines ``forward``); the table's are the classes that appear
in the graphs its cases build (each case run once, its output's graph walked through
``_node``/``inputs``). A backward helper op (Conv2dInput, MaxPool2dScatter, ...) counts through
a case that records a gradient (``create_graph=True``), as tests/op_table_layers.py does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from op_table import cases, draw

import chainrule as cr

OPS = Path(cr.__file__).resolve().parent / "ops"


def op_classes() -> dict[str, str]:
    """Name -> file of every op class defined under chainrule/ops."""
    classes: dict[str, tuple[list[str], bool, str]] = {}
    for path in sorted(OPS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                ]
                defines = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                classes[node.name] = (bases, "forward" in defines, path.name)

    def is_op(name: str, seen: tuple = ()) -> bool:
        if name == "Op":
            return True
        if name not in classes or name in seen:
            return False
        return any(is_op(b, (*seen, name)) for b in classes[name][0])

    return {n: c[2] for n, c in classes.items() if n != "Op" and c[1] and is_op(n)}


def tabled_classes() -> set[str]:
    """The op classes in the graphs that the table's cases build."""
    seen: set[str] = set()
    for _, op, shapes in cases():
        rng = np.random.default_rng(0)
        xs = [cr.tensor(draw(s, op.domain, rng), requires_grad=True) for s in shapes]
        stack, done = [op.fn(*xs)], set()
        while stack:
            node = getattr(stack.pop(), "_node", None)
            if node is None or id(node) in done:
                continue
            done.add(id(node))
            seen.add(type(node).__name__)
            stack.extend(node.inputs or ())
    return seen


def test_the_ast_finds_the_op_classes():
    found = op_classes()
    assert len(found) > 60
    assert {"Conv2d", "LSTMLayer", "SoftmaxCrossEntropy", "Add"} <= set(found)


def test_every_op_class_is_in_the_table():
    outside = {n: f for n, f in op_classes().items() if n not in tabled_classes()}
    assert outside == {}, f"op classes no case of tests/op_table.py reaches: {outside}"
