"""The layering of ../shared/DESIGN.md, kept by a test: each package of chainrule imports only
packages of its own layer or below (backend -> ops -> autograd -> jit -> functional ->
nn/optim/data -> models -> training/captioning -> cli/viz/explain). Imports inside functions
count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chainrule"

LAYER = {
    "errors": 0, "backend": 0, "backends": 0, "random": 0, "devices": 0,
    "ops": 1,
    "autograd": 2, "amp": 2, "cuda": 2,
    "jit": 3,
    "functional": 4,
    "nn": 5, "optim": 5, "data": 5, "datasets": 5, "utils": 5, "serialization": 5, "metrics": 5,
    "models": 6,
    "training": 7, "captioning": 7, "distributed": 7,
    "cli": 8, "viz": 8, "explain": 8, "onnx": 8,
    "__main__": 8,  # `python -m chainrule`: the command line
}  # fmt: skip


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level chainrule package) for every absolute import of chainrule in
    ``source``, at any depth (module level or inside a function)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "chainrule":
                continue
            names = [a.name for a in node.names] if len(parts) == 1 else [parts[1]]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name.split(".")[1])
                for a in node.names
                if a.name.startswith("chainrule.")
            ]
    return found


def violations(package: str, source: str, where: str) -> list[str]:
    """Upward imports (and imports of packages with no layer) from ``package``'s ``source``."""
    out = []
    for line, target in imported_packages(source):
        if target not in LAYER:
            out.append(f"{where}:{line}: chainrule.{target} has no layer in LAYER")
        elif LAYER[target] > LAYER[package]:
            out.append(
                f"{where}:{line}: {package} (layer {LAYER[package]}) imports {target} "
                f"(layer {LAYER[target]}), a layer above it"
            )
    return out


def test_every_package_has_a_layer():
    packages = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or p.is_dir()}
    packages -= {"__init__", "__pycache__"}
    assert packages <= set(LAYER), f"give these a layer: {sorted(packages - set(LAYER))}"


def test_no_package_imports_a_layer_above_it():
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts == ("__init__.py",):  # the package's face imports everything, by design
            continue
        package = rel.parts[0].removesuffix(".py")
        problems += violations(package, path.read_text(), str(rel))
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_upward_import():
    lazy = "def f():\n    from chainrule.nn import Linear\n"
    assert violations("autograd", lazy, "x.py") == [
        "x.py:2: autograd (layer 2) imports nn (layer 5), a layer above it"
    ]
    assert violations("nn", "from chainrule import autograd, ops\n", "y.py") == []
    assert violations("ops", "import chainrule.jit.recording\n", "z.py")
