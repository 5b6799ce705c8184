"""The packaging promise: ``pip install chainrule`` is NumPy, safetensors and ml_dtypes (the
NumPy dtype behind ``cr.bfloat16``), and everything else comes with an extra that is imported
only where it is used, and named when it is missing."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chainrule.errors import MissingExtraError, require_extra

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Each third-party module chainrule imports, and the distribution (and extra) that provides it.
PROVIDED_BY = {
    "numpy": ("numpy", None),
    "safetensors": ("safetensors", None),
    "ml_dtypes": ("ml_dtypes", None),
    "tqdm": ("tqdm", "cli"),
    "matplotlib": ("matplotlib", "cli"),
    "PIL": ("pillow", "caption"),
    "pycocoevalcap": ("pycocoevalcap", "caption"),
    "mpi4py": ("mpi4py", "mpi"),
    "onnx": ("onnx", "onnx"),
}
OPTIONAL = sorted(m for m, (_, extra) in PROVIDED_BY.items() if extra)


def _names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
            for r in requirements}  # fmt: skip


def _extra(name: str) -> set[str]:
    """The distributions an extra installs, following chainrule[...] references."""
    out = set()
    for r in PROJECT["optional-dependencies"][name]:
        if r.startswith("chainrule["):
            for inner in r[len("chainrule[") : r.index("]")].split(","):
                out |= _extra(inner.strip())
        else:
            out |= _names([r])
    return out


def test_the_core_dependencies_are_numpy_safetensors_and_ml_dtypes():
    assert _names(PROJECT["dependencies"]) == {"numpy", "safetensors", "ml_dtypes"}


def test_each_optional_module_is_in_its_extra_and_all_holds_cli_caption_and_mpi():
    for module, (dist, extra) in PROVIDED_BY.items():
        if extra:
            assert dist in _extra(extra), f"{module}: {dist} is not in [{extra}]"
    assert _extra("all") == _extra("cli") | _extra("caption") | _extra("mpi")
    assert any(r.startswith("ruff==") for r in PROJECT["optional-dependencies"]["dev"])


def test_setup_sh_installs_all_the_extras():
    text = (ROOT / "setup.sh").read_text()
    assert 'pip install -q -e ".[all]"' in text
    assert 'pip install -q -e ".[all,dev]"' in text


def test_every_third_party_import_in_chainrule_is_provided_by_a_dependency():
    unknown = set()
    for path in (ROOT / "chainrule").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in sys.stdlib_module_names and top != "chainrule":
                    if top not in PROVIDED_BY:
                        unknown.add(f"{path.relative_to(ROOT)}: {top}")
    assert not unknown, f"add these to pyproject.toml and PROVIDED_BY: {sorted(unknown)}"


@pytest.mark.parametrize(
    "program",
    ["import chainrule", "import chainrule.cli.main as m; m.build_parser()"],
    ids=["import chainrule", "chainrule --help"],
)
def test_the_engine_and_the_cli_parser_import_no_optional_package(program):
    check = f"{program}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(OPTIONAL)!r}))"
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def test_require_extra_returns_the_module_or_names_the_extra(monkeypatch):
    assert require_extra("cli", "json.decoder").__name__ == "json.decoder"
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if it were not installed
    with pytest.raises(MissingExtraError) as info:
        require_extra("cli", "tqdm")
    assert str(info.value) == (
        "tqdm is not installed; it comes with chainrule's [cli] extra: "
        "pip install 'chainrule[cli]' (or bash setup.sh)"
    )
    assert isinstance(info.value, ImportError)


def test_caption_scoring_without_pycocoevalcap_names_the_caption_extra(monkeypatch):
    from chainrule.metrics.captions import score_captions

    monkeypatch.setitem(sys.modules, "pycocoevalcap", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'chainrule\[caption\]'"):
        score_captions(["a coat"], [["a coat"]], meteor=False)


def test_a_broken_import_inside_an_installed_package_is_not_blamed_on_the_extra(tmp_path):
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text("import no_such_module_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError) as info:
            require_extra("cli", "brokenpkg")
        assert not isinstance(info.value, MissingExtraError)
        assert info.value.name == "no_such_module_anywhere"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("brokenpkg", None)
