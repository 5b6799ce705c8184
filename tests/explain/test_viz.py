"""cr.viz.draw: the DOT text holds every node with its value and gradient; modules become boxes."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import GraphFreedError
from chainrule.viz import Graph, GraphvizNotFoundError, dot_binary, draw, short

needs_dot = pytest.mark.skipif(dot_binary() is None, reason="Graphviz's dot is not installed")

GREEN, RED, BLUE, GRAY = "#1a7f37", "#cf222e", "#0550ae", "#6e7781"
M = "\u2212"  # the true minus sign of the picture's numbers


def parse_dot(source: str):
    """(node id -> label text, [(src, dst, green values, red values)]) from our DOT output."""
    nodes, edges = {}, []
    for m in re.finditer(r"^\s*(\w+) \[(.*)label=<(.*)>\];$", source, re.M):
        nid, _, label = m.groups()
        if "->" not in m.group(0):
            nodes[nid] = label
    for src, dst, green, _, red, _ in parse_edges(source):
        edges.append((src, dst, green, red))
    return nodes, edges


def parse_edges(source: str):
    """[(src, dst, green, blue, red, role)] with the texts of each colour on each edge."""
    out = []
    for m in re.finditer(r"^\s*(\w+) -> (\w+) \[(.*)\];$", source, re.M):
        src, dst, attrs = m.groups()
        found = [
            re.findall(rf'<font color="{c}">([^<]*)</font>', attrs)
            for c in (GREEN, BLUE, RED, GRAY)
        ]
        out.append((src, dst, *found))
    return out


def plain(label: str) -> str:
    return re.sub(r"<[^>]+>", " ", label).split()


@pytest.fixture
def e_graph(float64):
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(1.0, requires_grad=True)
    a.name, b.name = "a", "b"
    c = a + b
    d = b + 1
    c.name, d.name = "c", "d"
    e = c * d
    e.name = "e"
    return a, b, e


def test_dot_has_every_node_with_value_local_derivative_and_gradient(e_graph):
    a, b, e = e_graph
    g = draw(e)
    nodes, _ = parse_dot(g.source)
    by_label = {" ".join(plain(v)): k for k, v in nodes.items()}
    ids = {
        "a": by_label["a grad 2"],
        "b": by_label["b grad 5 = 2 + 3"],  # the leaf's total, as the sum of what it received
        "c": by_label["c = a + b"],  # what the node computes, over its operands' names
        "d": by_label["d = b + 1"],
        "e": by_label["e = c × d"],
        "1": by_label["1"],
    }
    assert len(nodes) == 6
    name = {v: k for k, v in ids.items()} | {"output": "output"}
    got = sorted((name[s], name[d], gr, bl, rd) for s, d, gr, bl, rd, _ in parse_edges(g.source))
    # value of the source (green), the local derivative (blue), upstream × local (red)
    assert got == sorted(
        [
            ("a", "c", ["2"], ["∂c/∂a = 1"], ["2 × 1 = 2"]),
            ("b", "c", ["1"], ["∂c/∂b = 1"], ["2 × 1 = 2"]),
            ("b", "d", ["1"], ["∂d/∂b = 1"], ["3 × 1 = 3"]),
            ("1", "d", ["1"], [], []),  # a constant takes no gradient
            ("c", "e", ["3"], ["∂e/∂c = d = 2"], ["1 × 2 = 2"]),
            ("d", "e", ["2"], ["∂e/∂d = c = 3"], ["1 × 3 = 3"]),
            ("e", "output", ["6"], [], ["seed 1"]),  # the output's value and the seed
        ]
    )
    assert a.grad is None and b.grad is None  # drawing does not touch .grad


def test_operand_roles_and_exponent_are_shown(float64):
    x, y, z = (cr.tensor(v, requires_grad=True) for v in (5.0, 2.0, 4.0))
    x.name, y.name, z.name = "x", "y", "z"
    n = x - y
    n.name = "n"
    q = n / z
    q.name = "q"
    f = q**2
    f.name = "f"
    g = f ** cr.tensor(3.0, requires_grad=True)
    src = draw(g).source
    nodes, _ = parse_dot(src)
    labels = {" ".join(plain(v)) for v in nodes.values()}
    assert {"n = x − y", "q = n / z", "f = q²"} <= labels  # the exponent 2 is on the picture
    roles = {(s, d): role for s, d, _, _, _, role in parse_edges(src)}
    ids = {" ".join(plain(v)).split()[0]: k for k, v in nodes.items()}
    assert roles[(ids["x"], ids["n"])] == ["first"]
    assert roles[(ids["y"], ids["n"])] == ["subtracted"]
    assert roles[(ids["n"], ids["q"])] == ["numerator"]
    assert roles[(ids["z"], ids["q"])] == ["denominator"]
    assert roles[(ids["f"], ids["pow"])] == ["base"]
    blue = {(s, d): b for s, d, _, b, _, _ in parse_edges(src)}
    assert blue[(ids["z"], ids["q"])] == [f"∂q/∂z = {M}n/z² = {M}0.1875"]  # −3/16
    assert blue[(ids["q"], ids["f"])] == ["∂f/∂q = 2·q = 1.5"]


def test_numbers_use_a_true_minus_and_negative_factors_in_parentheses(float64):
    x = cr.tensor(-2.0, requires_grad=True)
    z = cr.tensor(-4.0, requires_grad=True)
    x.name, z.name = "x", "z"
    f = x * z
    f.name = "f"
    red = {tuple(gr): rd for _, _, gr, _, rd, _ in parse_edges(draw(f * 3).source)}
    assert red[(f"{M}2",)] == [f"3 × ({M}4) = {M}12"]


def test_left_to_right_at_any_size_unless_asked(float64):
    u = cr.tensor(1.1, requires_grad=True)
    for _ in range(10):  # 21 nodes: above the 12 at which pictures used to turn top to bottom
        u = (u * u).tanh()
    assert "rankdir=LR" in draw(u).source
    assert "rankdir=TB" in draw(u, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir must be LR, TB, RL or BT"):
        draw(u, rankdir="XY")


def test_same_graph_same_bytes(float64):
    def build():
        a, b = cr.tensor(2.0, requires_grad=True), cr.tensor(1.0, requires_grad=True)
        a.name, b.name = "a", "b"
        return ((a + b) * (b + 1)).sigmoid()

    first, second = build(), build()
    assert draw(first).source == draw(second).source == draw(first).source


def test_values_and_grads_can_be_left_out(e_graph):
    _, _, e = e_graph
    src = draw(e, values=False, grads=False).source
    assert GREEN not in src and RED not in src
    src = draw(e, grads=False).source
    assert GREEN in src and RED not in src


def test_draw_after_backward(e_graph):
    _, b, e = e_graph
    e.backward(retain_graph=True)
    e.backward(retain_graph=True)  # .grad now holds twice the gradient; the picture does not
    assert b.grad.item() == 10.0
    nodes, _ = parse_dot(draw(e).source)
    assert "b grad 5 = 2 + 3" in {" ".join(plain(v)) for v in nodes.values()}
    e.backward()  # frees the graph
    with pytest.raises(
        GraphFreedError, match=r"draw: the graph .* freed by backward\(\).*retain_graph=True"
    ):
        draw(e)


def test_fan_out_at_an_op_shows_its_total(float64):
    x = cr.tensor(3.0, requires_grad=True)
    s = x * 2
    s.name = "s"
    out = s * s + s  # s is used three times: d out/ds = 2s + 1 = 13
    nodes, edges = parse_dot(draw(out).source)
    s_label = next(v for v in nodes.values() if plain(v)[:2] == ["s", "mul"])
    assert plain(s_label)[-9:] == ["Σ", "grad", "13", "=", "1", "+", "6", "+", "6"]
    sid = next(k for k, v in nodes.items() if v == s_label)
    sent = sorted(float(rd[0].split()[-1]) for src, _, _, rd in edges if src == sid)
    assert sent == [1.0, 6.0, 6.0]


def test_vectors_show_shape_and_a_few_numbers():
    assert short(np.arange(640.0).reshape(64, 10)) == "64×10 [0, 1, 2, …]"
    assert short(np.array([2.0, -3.0, -3.0])) == f"[2, {M}3, {M}3]"
    assert short(np.float32(0.7310586)) == "0.7311"
    x = cr.randn(64, 100)
    w = cr.randn(100, 10, requires_grad=True)
    src = draw((x @ w).sum()).source
    assert max(len(line) for line in src.splitlines()) < 400  # no wall of numbers
    assert "64×100 [" in src and "gradient of the output" in src


def test_non_scalar_output_is_seeded_with_ones(float64):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse_dot(draw(w * 3).source)
    assert [rd for s, d, _, rd in edges if d == "output"] == [["seed [1, 1]"]]
    assert "leaf 2 grad [3, 3]" in {" ".join(plain(v)) for v in nodes.values()}
    assert "gradient of sum of the output" in draw(w * 3).source


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def clusters(source: str) -> dict[str, str]:
    """cluster label -> the text of its block (nested blocks included)."""
    out = {}
    for m in re.finditer(r"subgraph cluster_\d+ \{\n\s*label=<([^>]*)>", source):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            i += 1
        out[m.group(1)] = source[m.end() : i]
    return out


def test_mlp_step_is_grouped_by_module():
    cr.manual_seed(0)
    model = MLP()
    x = cr.randn(8, 4)
    loss = nn.functional.cross_entropy(model(x), cr.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    src = draw(loss, modules=model).source
    boxes = clusters(src)
    assert set(boxes) == {"fc1 (Linear)", "fc2 (Linear)"}
    for name in ("fc1", "fc2"):
        box = boxes[f"{name} (Linear)"]
        assert f"<b>{name}.weight</b>" in box and f"<b>{name}.bias</b>" in box
        assert box.count("shape=ellipse") == 1  # the layer's one fused linear op
        assert "relu" not in box and "cross_entropy" not in box
    # The parameter gradients on the picture are the engine's.
    grads = cr.grad(loss, list(model.parameters()), retain_graph=True)
    g = grads[1].numpy()  # fc1.bias
    want = f"grad {short(g)}"
    assert want in boxes["fc1 (Linear)"]


def test_nested_modules_nest_boxes():
    cr.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3)), nn.Linear(3, 1)
    )
    out = model(cr.randn(2, 3)).sum()
    boxes = clusters(draw(out, modules=model).source)
    assert set(boxes) == {"0 (Sequential)", "0.0 (Linear)", "0.2 (Linear)", "1 (Linear)"}
    outer = boxes["0 (Sequential)"]
    assert "0.0 (Linear)" in outer and "0.2 (Linear)" in outer
    assert "tanh" in outer  # between the inner layers: in the Sequential's box
    assert "tanh" not in boxes["0.0 (Linear)"] and "tanh" not in boxes["0.2 (Linear)"]


def test_params_dict_names_parameters():
    model = nn.Linear(2, 1)
    out = model(cr.ones(1, 2)).sum()
    src = draw(out, params=dict(model.named_parameters())).source
    assert "<b>weight</b>" in src and "<b>bias</b>" in src


@needs_dot
def test_render_svg_png_and_jupyter(e_graph, tmp_path):
    _, _, e = e_graph
    g = draw(e, path=tmp_path / "e.png")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert g.save(tmp_path / "e.svg").read_text().count("<svg") == 1
    assert g.save(tmp_path / "e", format="svg") == tmp_path / "e.svg"
    svg = g._repr_svg_()
    assert svg is not None and ">grad 5 = 2 + 3<" in svg and ">6<" in svg
    assert g.save(tmp_path / "e.dot").read_text() == g.source


@needs_dot
def test_png_pictures_are_at_most_1600_px_wide(tmp_path, float64):
    from PIL import Image

    from chainrule.viz.render import MAX_PNG_WIDTH, MIN_DPI

    u = cr.tensor(1.1, requires_grad=True)
    for _ in range(12):  # a long chain: about 5,000 px wide left to right at 150 dpi
        u = (u * 1.5).tanh()
    wide = draw(u)
    assert wide._inches(wide.source) * 150 > 3 * MAX_PNG_WIDTH
    width, height = Image.open(wide.save(tmp_path / "auto.png")).size
    assert width <= MAX_PNG_WIDTH and height > width  # turned top to bottom
    dpi, source = wide.png_fit()
    assert "rankdir=TB" in source and dpi >= MIN_DPI and "rankdir=LR" in wide.source
    # A direction the caller chose is kept: fewer dpi, down to 90, and no further.
    asked = draw(u, rankdir="LR")
    assert asked.png_fit() == (MIN_DPI, asked.source)
    # A small graph keeps 150 dpi.
    a = cr.tensor(2.0, requires_grad=True)
    assert draw(a * 3).png_fit()[0] == 150


def test_without_dot_the_dot_text_is_written(e_graph, tmp_path, monkeypatch):
    _, _, e = e_graph
    monkeypatch.setattr("chainrule.viz.render.dot_binary", lambda: None)
    g = draw(e)
    with pytest.raises(GraphvizNotFoundError) as info:
        g.save(tmp_path / "graph.png")
    msg = str(info.value)
    assert "apt-get install graphviz" in msg
    assert f"dot -Tpng {tmp_path / 'graph.dot'} -o {tmp_path / 'graph.png'}" in msg
    assert (tmp_path / "graph.dot").read_text() == g.source
    assert not (tmp_path / "graph.png").exists()
    assert g._repr_svg_() is None


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a Tensor"):
        draw([1, 2])
    with pytest.raises(TypeError, match="named_parameters"):
        draw(cr.tensor(1.0, requires_grad=True) * 2, modules=object())
    with pytest.raises(ValueError, match="format must be one of"):
        Graph("digraph {}").pipe("jpeg")


ROOT = Path(__file__).resolve().parents[2]


def redraw_commands(page: Path) -> list[list[str]]:
    """The commands of the page's "To redraw the pictures" block, split as a shell would."""
    text = page.read_text()
    block = text.split("To redraw the pictures of this page:", 1)[1].split("```sh\n", 1)[1]
    return [shlex.split(line) for line in block.split("```", 1)[0].splitlines() if line.strip()]


@needs_dot
def test_readme_pictures_redraw_byte_for_byte(tmp_path, capsys):
    from chainrule.cli import explain as cli

    commands = redraw_commands(ROOT / "README.md")
    assert commands == redraw_commands(ROOT / "docs" / "explain.md")
    redrawn = 0
    for cmd in commands:
        out = next(a for a in cmd if a.startswith("docs/img/"))
        if out.endswith("numerical_vs_backprop.png"):
            continue  # a plot of timings: a new run draws new numbers
        fresh = tmp_path / Path(out).name
        args = [str(fresh) if a == out else a for a in cmd]
        if args[:2] == ["chainrule", "explain"]:
            assert cli.main(args[2:]) == 0
        else:
            assert args[0] == "python"
            subprocess.run([sys.executable, *args[1:]], cwd=ROOT, check=True, capture_output=True)
        assert fresh.read_bytes() == (ROOT / out).read_bytes(), f"{out} is not what {cmd} draws"
        redrawn += 1
    assert redrawn == 4
    capsys.readouterr()
