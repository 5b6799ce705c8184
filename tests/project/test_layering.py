"""The layering of ../shared/DESIGN.md, kept by a test: each package of chainrule imports only
packages of its own layer or below (backend -> ops -> autograd -> jit -> functional ->
nn/optim/data -> models -> training/captioning -> cli/viz/explain). Imports inside functions
count too: a lazy import is still a dependency.

Below those, the rules of issue 29: no module imports the root package ``chainrule`` (its face
imports every layer); packages of one row of the design's table import each other only in the
order the design gives them; no import cycle between modules (imports run at import time) or
between packages (every import, lazy ones included); no private name crosses a package. The size
budgets are kept by test_size_budgets.py."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "chainrule"

LAYER = {
    "errors": 0, "backend": 0, "backends": 0, "random": 0, "devices": 0, "memory": 0,
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


# ===== The rules added by issue 29 =====================================================
# Each rule below lists what it finds today in a KNOWN set: violations that other changes of
# issue 29 are removing in parallel. A rule fails on anything found that is not KNOWN, and on a
# KNOWN entry that no longer occurs (remove it: the lists only shrink, and end empty).
# Entries name files and imported names, never line numbers, so that edits elsewhere in a file
# leave them valid.


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of chainrule (packages by their __init__)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def _lazy_node_ids(tree: ast.AST) -> set[int]:
    """Nodes inside a function body (run when called, not when the module is imported) or under
    ``if TYPE_CHECKING:`` (never run)."""
    ids = set()
    for node in ast.walk(tree):
        inside = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        inside |= isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        if inside:
            ids |= {id(n) for n in ast.walk(node) if n is not node}
    return ids


def _resolve(dotted: str) -> str:
    """The module an import of ``dotted`` runs: itself, or its nearest enclosing module."""
    while dotted and dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


@functools.cache  # each rule reads every module; parse each once
def imports_of(source: str) -> list[tuple[int, str, str, bool]]:
    """(line, imported module, imported name or "", lazy) for every absolute import of chainrule
    in ``source``. ``from chainrule.a import b`` imports module chainrule.a.b where that is a
    module, else module chainrule.a and the name b; ``lazy``: inside a function (or under
    ``TYPE_CHECKING``), so not run when the module is imported."""
    tree = ast.parse(source)
    lazy_ids = _lazy_node_ids(tree)
    out = []
    for node in ast.walk(tree):
        lazy = id(node) in lazy_ids
        if isinstance(node, ast.Import):
            out += [
                (node.lineno, _resolve(a.name), "", lazy)
                for a in node.names
                if a.name.split(".")[0] == "chainrule"
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "chainrule":
                continue
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in MODULES:
                    out.append((node.lineno, full, "", lazy))
                else:
                    out.append((node.lineno, _resolve(node.module), a.name, lazy))
    return out


def _package(module: str) -> str:
    """chainrule.nn.conv -> nn; chainrule -> "" (the root package)."""
    return module.split(".")[1] if "." in module else ""


def _where(module: str) -> str:
    return str(MODULES[module].relative_to(ROOT))


def check(found: set[str], known: set[str], what: str) -> None:
    """Fails on a violation that is not KNOWN, and on a KNOWN one that no longer occurs."""
    new, gone = sorted(found - known), sorted(known - found)
    assert not new, f"{what}:\n  " + "\n  ".join(new)
    assert not gone, f"no longer found, remove from the KNOWN list: {gone}"


# ----- the root package -----
# `import chainrule` (or `from chainrule import Tensor`) inside the library imports the package's
# face, which imports every layer: a dependency on all of them, hidden from the layer rule.
KNOWN_ROOT_IMPORTS: set[str] = set()


def root_imports(module: str, source: str) -> list[str]:
    """The files of ``module`` that import the root package (lazily or not)."""
    return [_where(module) for _, target, _, _ in imports_of(source) if target == "chainrule"]


def test_no_module_imports_the_root_package():
    found = {
        f
        for m, path in MODULES.items()
        if m not in ("chainrule", "chainrule.__main__")
        for f in root_imports(m, path.read_text())
    }
    check(found, KNOWN_ROOT_IMPORTS, "modules importing the root package `chainrule`")


# ----- packages of one row -----
# DESIGN.md: each layer imports only those below it. LAYER gives the rows of its table; inside a
# row, these pairs follow the design's own order (a reader returns the data protocol, the
# captioner trains with the one training loop, the renderers sit above explain's model, the CLI
# above both) and are allowed. Any other import across packages of one row is not.
SAME_ROW_ALLOWED = {
    ("amp", "autograd"),  # autocast is built on autograd (amp is not in the design's table)
    ("cuda", "amp"),  # torch.cuda.amp is an alias of torch.amp
    ("datasets", "data"),  # the readers return data's Dataset
    ("serialization", "nn"),  # saving a Module's state dict (nn never imports serialization)
    ("captioning", "training"),  # the one training loop, its checkpoints and curves
    ("training", "distributed"),  # the loop's data-parallel mode
    ("viz", "explain"),  # pictures render explain's model
    ("cli", "explain"),
    ("cli", "viz"),
    ("cli", "onnx"),  # `chainrule export` writes ONNX
    ("__main__", "cli"),  # `python -m chainrule` is the command line
    ("data", "utils"),  # chainrule.data is an alias of chainrule.utils.data
    ("datasets", "utils"),  # the readers return utils.data's Dataset
    ("random", "backend"),  # the generators draw arrays of the backend's array module
    # explain's renderers and top draw with viz, which renders explain's bottom: the pair is one
    # stack, kept in order module by module by test_explain_and_viz_are_layers below.
    ("explain", "viz"),
}
KNOWN_SAME_ROW: set[str] = set()


def same_row_imports(module: str, source: str) -> list[str]:
    """Imports from ``module`` into another package of its row that SAME_ROW_ALLOWED lacks."""
    here = _package(module)
    out = []
    for _, target, _, _ in imports_of(source):
        there = _package(target)
        if there and there != here and LAYER.get(there) == LAYER.get(here):
            if (here, there) not in SAME_ROW_ALLOWED:
                out.append(f"{_where(module)} -> {there}")
    return out


def test_no_import_across_packages_of_one_row_unless_the_design_orders_them():
    found = {
        f for m, path in MODULES.items() if m != "chainrule"
        for f in same_row_imports(m, path.read_text())
    }  # fmt: skip
    check(found, KNOWN_SAME_ROW, "imports across packages of one row of DESIGN.md's table")


# ----- private names -----
KNOWN_PRIVATE: set[str] = set()


def private_imports(module: str, source: str) -> list[str]:
    """Names (or modules) starting with one underscore that ``module`` imports from another
    package."""
    out = []
    for _, target, name, _ in imports_of(source):
        if _package(target) in ("", _package(module)):
            continue
        dotted = f"{target}.{name}" if name else target
        if any(p.startswith("_") and not p.startswith("__") for p in dotted.split(".")[1:]):
            out.append(f"{_where(module)} -> {dotted}")
    return out


def test_no_private_name_is_imported_across_packages():
    found = {f for m, path in MODULES.items() for f in private_imports(m, path.read_text())}
    check(found, KNOWN_PRIVATE, "private names imported from another package")


# ----- import cycles -----
# Two graphs. Modules, with the imports run when a module is imported (lazy ones left out: a
# lazy import cannot meet a half-initialised module, and inside one package it is how a Tensor
# method reaches the op functions built on Tensor); a cycle there fails. Packages, with every
# import, lazy ones included: a circle between packages (explain -> viz -> explain) is a
# dependency both ways whether or not it is deferred, so it fails too.
KNOWN_MODULE_CYCLES: set[str] = set()
KNOWN_PACKAGE_CYCLES: set[str] = set()
# viz is explain's picture renderer: in the package graph the pair is one node, and the order
# inside it is kept module by module (test_explain_and_viz_are_layers).
PACKAGE_OF = {"viz": "explain"}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iterative),
    each sorted: every import cycle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def import_graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module graph of the imports run at import time, package graph of every import)."""
    modules: dict[str, set[str]] = {}
    packages: dict[str, set[str]] = {}
    for m, path in MODULES.items():
        for _, target, _, lazy in imports_of(path.read_text()):
            if not lazy and target != m:
                modules.setdefault(m, set()).add(target)
            here, there = _package(m), _package(target)
            here, there = PACKAGE_OF.get(here, here), PACKAGE_OF.get(there, there)
            if here and there and here != there:
                packages.setdefault(here, set()).add(there)
    return modules, packages


def test_no_import_cycle_between_modules_or_packages():
    modules, packages = import_graphs()
    check({" <-> ".join(c) for c in cycles(modules)}, KNOWN_MODULE_CYCLES, "module import cycles")
    check({" <-> ".join(c) for c in cycles(packages)}, KNOWN_PACKAGE_CYCLES, "package cycles")


def test_the_new_checks_catch_what_they_name():
    lazy_root = "def f():\n    import chainrule as cr\n"
    assert root_imports("chainrule.nn.modules.conv", lazy_root) == ["nn/modules/conv.py"]
    assert (
        root_imports("chainrule.nn.modules.conv", "from chainrule.autograd import Tensor\n") == []
    )
    assert same_row_imports("chainrule.nn.modules.conv", "from chainrule.optim import SGD\n") == [
        "nn/modules/conv.py -> optim"
    ]
    assert same_row_imports("chainrule.viz.draw", "from chainrule.explain import core\n") == []
    assert private_imports(
        "chainrule.nn.modules.conv", "from chainrule.functional.conv import _x\n"
    ) == ["nn/modules/conv.py -> chainrule.functional.conv._x"]
    assert (
        private_imports("chainrule.nn.modules.conv", "from chainrule.nn.modules.module import _x\n")
        == []
    )
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    lazy = "def f():\n    from chainrule.nn.modules import conv\n"
    assert imports_of(lazy) == [(2, "chainrule.nn.modules.conv", "", True)]


# ----- explain and viz as layers -----
# The bottom computes (the ledger the backward walk fills, local derivatives, paths, forward mode,
# numerical checks, the expression language); the renderers turn that into text, JSON, pages and
# pictures; the top (cr.explain, the step and learning explanations) puts them together. Each
# stage imports only its own stage or the ones below, lazy imports included.
EXPLAIN_STAGE = {
    **dict.fromkeys(
        ["explain." + m for m in (
            "bindings", "evaluate", "forward_mode", "functions", "gates", "i18n", "i18n_page",
            "layers", "ledger", "local", "nudge", "numerical", "order", "parser", "paths",
            "rules", "trace",
        )], 0),
    **dict.fromkeys(
        ["explain." + m for m in (
            "backward_text", "learn_plot", "nudge_text", "page", "page_layout", "page_learn",
            "page_svg", "report",
        )] + ["viz", "viz.draw", "viz.labels", "viz.render"], 1),
    **dict.fromkeys(["explain", "explain.core", "explain.learn", "explain.model"], 2),
}  # fmt: skip
STAGE_NAME = ("bottom", "renderer", "top")


def stage_violations(module: str, source: str) -> list[str]:
    """Imports from explain/viz module ``module`` into a later stage of EXPLAIN_STAGE."""
    here = EXPLAIN_STAGE[module.removeprefix("chainrule.")]
    out = []
    for _, target, _, _ in imports_of(source):
        there = EXPLAIN_STAGE.get(target.removeprefix("chainrule."))
        if there is not None and there > here:
            out.append(
                f"{_where(module)} ({STAGE_NAME[here]}) imports {target} ({STAGE_NAME[there]})"
            )
    return out


def test_explain_and_viz_are_layers():
    pair = {m for m in MODULES if _package(m) in ("explain", "viz")}
    assert pair == {f"chainrule.{m}" for m in EXPLAIN_STAGE}, (
        "every explain/viz module needs its stage in EXPLAIN_STAGE: "
        f"{sorted(pair ^ {f'chainrule.{m}' for m in EXPLAIN_STAGE})}"
    )
    found = [v for m in sorted(pair) for v in stage_violations(m, MODULES[m].read_text())]
    assert not found, "explain/viz imports against the stages:\n  " + "\n  ".join(found)


def test_the_stage_check_catches_an_upward_import():
    up = "def f():\n    from chainrule.explain.page import x\n"
    assert stage_violations("chainrule.explain.ledger", up) == [
        "explain/ledger.py (bottom) imports chainrule.explain.page (renderer)"
    ]
    assert stage_violations("chainrule.explain.page", "from chainrule.viz import draw\n") == []


# ----- the array module -----
# DESIGN.md: the array module is reached through the backend (``from chainrule.backend import
# xp``), so that another one (CuPy) is a change of backend, not a rewrite. The primitive ops and
# the backend itself are where the arrays are computed, and may name NumPy.
ARRAY_LAYER = ("chainrule.ops", "chainrule.backend")


def numpy_imports(module: str, source: str) -> list[str]:
    """``module``'s imports of numpy (lazy ones included) other than ``numpy.typing``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        out += [
            f"{_where(module)}:{node.lineno}: imports {n}"
            for n in names
            if n.split(".")[0] == "numpy" and n != "numpy.typing"
        ]
    return out


def test_numpy_is_reached_through_the_backend_above_ops():
    found = [
        v
        for m, path in sorted(MODULES.items())
        if not m.startswith(ARRAY_LAYER)
        for v in numpy_imports(m, path.read_text())
    ]
    assert not found, "use `from chainrule.backend import xp`:\n  " + "\n  ".join(found)


def test_the_numpy_check_catches_a_lazy_import():
    lazy = "def f():\n    import numpy as np\n    from numpy.typing import NDArray\n"
    assert numpy_imports("chainrule.nn.modules.conv", lazy) == [
        "nn/modules/conv.py:2: imports numpy"
    ]
