"""The explain page at scale, measured in headless Chromium: node boxes never overlap, no text is
smaller than 11 px, every node sits where Graphviz put it, constants are placed by identity
(not by value), and a 200-node step loads quickly with its module boxes collapsed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import explain
from chainrule.explain.model import explain_tensor
from chainrule.explain.page import layout_of
from chainrule.explain.page_layout import MARGIN

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOT = shutil.which("dot")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or DOT is None,
    reason="needs headless Chromium and Graphviz (Debian packages chromium, graphviz; "
    "bash setup.sh --dev)",
)
NEURON = "1/(1+exp(-(w0*x0 + w1*x1 + w2)))"
AT = dict(w0=2, x0=-1, w1=-3, x1=-2, w2=-3)

# Run after the page's own script, at the load event: opens every module box (to measure every
# node), then writes what the test checks into <pre id="probe"> for --dump-dom to read.
PROBE = """<pre id="probe"></pre><script>
window.addEventListener("load", function () {
  const loaded = performance.now();
  if (document.getElementById("open-all")) document.getElementById("open-all").click();
  const nodes = [];
  for (const g of document.querySelectorAll("#graph g.node")) {
    const m = g.transform.baseVal.consolidate().matrix;
    const r = g.querySelector("rect");
    const b = r.getBoundingClientRect();
    nodes.push({id: g.id, x: m.e, y: m.f, w: r.width.baseVal.value, h: r.height.baseVal.value,
                left: b.left, top: b.top, right: b.right, bottom: b.bottom});
  }
  const sizes = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some(function (c) {
      return c.nodeType === 3 && c.textContent.trim();
    });
    if (own && el.getClientRects().length) {
      sizes.push([el.tagName, parseFloat(getComputedStyle(el).fontSize), el.textContent.slice(0, 40)]);
    }
  }
  document.getElementById("probe").textContent = JSON.stringify(
    {loaded: loaded, nodes: nodes, sizes: sizes});
});
</script></body>"""


def measure(page: str, tmp_path, step: int | None = None) -> dict:
    path = tmp_path / "page.html"
    path.write_text(page.replace("</body>", PROBE), encoding="utf-8")
    url = path.as_uri() + (f"#step={step}" if step else "")
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    blob = re.search(r'<pre id="probe">(.*?)</pre>', out, re.S).group(1)
    return json.loads(html.unescape(blob))


def overlapping(nodes: list[dict]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            if (
                a["left"] < b["right"] - 0.5
                and b["left"] < a["right"] - 0.5
                and a["top"] < b["bottom"] - 0.5
                and b["top"] < a["bottom"] - 0.5
            ):
                out.append((a["id"], b["id"]))
    return out


def dot_centres(source: str) -> dict[str, tuple[float, float]]:
    """Node centres as dot places them, in the page's coordinates (y down, the margin added)."""
    got = json.loads(subprocess.run([DOT, "-Tjson"], input=source, capture_output=True,
                                    text=True, check=True, timeout=120).stdout)  # fmt: skip
    height = float(got["bb"].split(",")[3])
    out = {}
    for obj in got["objects"]:
        if "pos" in obj and not obj["name"].startswith("cluster"):
            x, y = (float(v) for v in obj["pos"].split(","))
            out[obj["name"]] = (x + MARGIN, height - y + MARGIN)
    return out


def check_page(page: str, source: str, tmp_path, step: int) -> dict:
    got = measure(page, tmp_path, step)
    assert overlapping(got["nodes"]) == []
    small = [s for s in got["sizes"] if s[1] < 11]
    assert small == [], small
    centres = dot_centres(source)
    assert {n["id"] for n in got["nodes"]} == set(centres)
    for n in got["nodes"]:
        cx, cy = n["x"] + n["w"] / 2, n["y"] + n["h"] / 2
        assert abs(cx - centres[n["id"]][0]) < 0.6 and abs(cy - centres[n["id"]][1]) < 0.6, n
    return got


@needs_chromium
@pytest.mark.parametrize("step", [10, 16, 23])
def test_gate_by_gate_neuron_in_chromium(tmp_path, step):
    ex = explain(NEURON, **AT)
    lay = layout_of(ex)
    assert lay.engine == "dot"
    check_page(ex.html(), lay.source, tmp_path, step)


def constants_left_of_their_users(ex) -> list[tuple[float, float]]:
    """(right edge of each constant 1, left edge of the op that uses it), found by identity."""
    lay = layout_of(ex)
    out = []
    data = json.loads(
        re.search(r'id="explain-data">(.*?)</script>', ex.html(), re.S).group(1)
    )  # the page's own ids and sizes
    width = {n["id"]: n["width"] for n in data["nodes"]}
    for e in data["edges"]:
        src = next(n for n in data["nodes"] if n["id"] == e["src"])
        if src["kind"] == "constant":
            out.append((lay.nodes[e["src"]][0] + width[e["src"]], lay.nodes[e["dst"]][0]))
    return out


@needs_chromium
@pytest.mark.parametrize("w2", [-3, -2.5])
def test_each_constant_sits_left_of_its_own_user(w2):
    # Two constants 1 (of 1 + exp and of 1 / ...): compared by value they were one and the same
    # to the old layout, which put both beside the first user; w2 = -2.5 moved them.
    pairs = constants_left_of_their_users(explain(NEURON, **{**AT, "w2": w2}))
    assert len(pairs) == 2
    for right, user_left in pairs:
        assert right < user_left


def deep_mlp_step(layers: int = 48):
    cr.manual_seed(0)
    body = []
    for _ in range(layers):
        body += [nn.Linear(8, 8), nn.Sigmoid()]
    model = nn.Sequential(nn.Linear(784, 8), *body, nn.Linear(8, 10))
    x = cr.randn(1, 784)
    loss = cr.nn.functional.cross_entropy(model(x), cr.tensor([3]))
    return explain_tensor(loss, modules=model), model


@needs_chromium
def test_a_200_node_step_loads_fast_and_stays_readable(tmp_path):
    ex, _ = deep_mlp_step()
    assert 195 <= len(ex.forward) + 2 <= 215  # the parameters, the ops, the image and label
    page = ex.html()
    data = json.loads(re.search(r'id="explain-data">(.*?)</script>', page, re.S).group(1))
    assert data["collapsed"] and len(data["boxes"]) > 40  # a box per Linear, opened one by one
    lay = layout_of(ex, boxes=ex.boxes)
    got = check_page(page, lay.source, tmp_path, 150)
    print(f"200-node page: load event at {got['loaded']:.0f} ms in headless Chromium")
    assert got["loaded"] < 3000  # loosely: the issue asks for < 1 s on an idle machine


@needs_chromium
def test_one_mlp_step_in_chromium(tmp_path):
    cr.manual_seed(0)
    from chainrule.models import MLP

    model = MLP([784, 64, 32, 10])
    loss = cr.nn.functional.cross_entropy(model(cr.randn(1, 784)), cr.tensor([7]))
    ex = explain_tensor(loss, modules=model)
    lay = layout_of(ex, boxes=ex.boxes)
    page = ex.html()
    for step in (5, 20, len(ex.forward) + len(ex.ledger.steps) + 2):
        check_page(page, lay.source, tmp_path, step)
    assert "net.0 (Linear)" in page and "net.4 (Linear)" in page


def test_columns_without_graphviz_place_by_identity(monkeypatch):
    import chainrule.explain.page_layout as page_layout

    monkeypatch.setattr(page_layout, "dot_binary", lambda: None)
    ex = explain(NEURON, **{**AT, "w2": -2.5})
    lay = layout_of(ex)
    assert lay.engine == "columns" and "dot was not found" in lay.note
    assert "dot was not found" in ex.html()
    for right, user_left in constants_left_of_their_users(ex):
        assert right < user_left
    xs = [x for x, _ in lay.nodes.values()]
    assert np.isfinite(xs).all()


def test_a_weight_shared_by_many_steps_gets_columns_at_once():
    import time

    from chainrule.explain import record
    from chainrule.explain.core import from_ledger

    cr.manual_seed(0)
    cell = cr.nn.RNNCell(3, 4)
    h = cr.zeros(1, 4)
    for _ in range(30):  # the cell's weights feed 30 steps: edges across up to 60 ranks
        h = cell(cr.randn(1, 3), h)
    ex = from_ledger(record(h.sum()))
    start = time.perf_counter()
    lay = layout_of(ex)
    assert lay.engine == "columns" and "many long edges" in lay.note
    assert time.perf_counter() - start < 10  # dot would take minutes here
    # Short loops still get Graphviz.
    h = cr.zeros(1, 4)
    for _ in range(5):
        h = cell(cr.randn(1, 3), h)
    if DOT is not None:
        assert layout_of(from_ledger(record(h.sum()))).engine == "dot"
