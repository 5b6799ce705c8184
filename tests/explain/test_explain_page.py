"""explain --html: one self-contained page stepping through the forward pass, forward mode and the
backward pass one node at a time; opened in headless Chromium at several steps."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import pytest

from chainrule.cli import explain as cli
from chainrule.explain import explain

E = "c = a+b; d = b+1; e = c*d"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian package chromium; bash setup.sh --dev)",
)


def data_of(page: str) -> dict:
    blob = re.search(
        r'<script type="application/json" id="explain-data">(.*?)</script>', page, re.S
    )
    data = json.loads(blob.group(1).replace("<\\/", "</"))
    # Each step lists the node texts that changed at it; a step's "nodes" is every node's texts
    # as they stand at that step, as the page's script rebuilds them.
    nodes: dict = {}
    for step in data["steps"]:
        nodes = {**nodes, **step["changed"]}
        step["nodes"] = nodes
    return data


def test_page_is_self_contained_and_the_same_bytes_each_time():
    ex = explain(E, a=2, b=1)
    page = ex.html(forward="b")
    assert page == explain(E, a=2, b=1).html(forward="b")
    # Nothing is fetched: no external scripts, styles, images or fonts. (The SVG namespace is
    # a name, not a request.)
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<script[^>]+src=|<link|@import|<img|<iframe", page)


def test_steps_forward_then_tangents_then_backward():
    ex = explain(E, a=2, b=1)
    steps = data_of(ex.html(forward="b"))["steps"]
    phases = [s["phase"] for s in steps]
    # 5 forward (a, b, c, d, e); the seed, 3 tangents, the result; the seed, 3 backward nodes,
    # and the gradient at the end.
    assert phases == ["forward"] * 5 + ["tangent"] * 5 + ["backward"] * 5
    assert steps[4]["lines"] == [["value", "e = c × d = 3 × 2 = 6"]]
    assert steps[8]["lines"][0] == [
        "tangent",
        "∂e/∂b = ∂e/∂c·∂c/∂b + ∂e/∂d·∂d/∂b = 2 × 1 + 3 × 1 = 5",
    ]
    d_step = steps[13]
    assert d_step["title"] == "backward pass: d sends its gradient back"
    assert ["upstream", "d add: upstream ∂e/∂d = 3"] in d_step["lines"]
    assert ["sum", "    running sum at b: 2 + 3 = 5"] in d_step["lines"]
    by_head = {n["head"]: n["id"] for n in data_of(ex.html())["nodes"]}
    b, c = by_head["b"], by_head["c = a + b"]
    assert d_step["received"] == [b]
    assert d_step["nodes"][b]["grad"] == "∂e/∂b = 2 + 3 = 5"
    # One step before, only c's contribution had reached b.
    assert steps[12]["nodes"][b]["grad"] == "∂e/∂b so far 2"
    assert steps[12]["nodes"][c]["grad"] == "∂e/∂c = 2"
    # Without --forward there are no tangent steps.
    assert "tangent" not in {s["phase"] for s in data_of(ex.html())["steps"]}


def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "e.html"
    args = [E, "--at", "a=2", "b=1", "--forward", "b", "--html", str(out)]
    assert cli.main(args) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == explain(E, a=2, b=1).html(forward="b")


def chromium(*args: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def dom(url: str, tmp_path) -> str:
    return chromium("--dump-dom", url, tmp_path=tmp_path).stdout


def text_of(dom_text: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:span|h2|ul|text)>', dom_text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "|", m.group(1)))


def classes_of(dom_text: str, element_id: str) -> set[str]:
    m = re.search(rf'<g id="{element_id}" class="([^"]*)"', dom_text)
    return set(m.group(1).split())


@needs_chromium
def test_page_in_headless_chromium(tmp_path):
    ex = explain(E, a=2, b=1)
    path = tmp_path / "e.html"
    path.write_text(ex.html(forward="b"), encoding="utf-8")
    nodes = {n["head"]: n["id"] for n in data_of(path.read_text(encoding="utf-8"))["nodes"]}
    url = path.as_uri()

    first = dom(url, tmp_path)  # no fragment: step 1
    assert text_of(first, "caption") == "step 1 of 15 · forward"
    assert "current" in classes_of(first, nodes["a"])

    page = dom(url + "#step=14", tmp_path)
    assert text_of(page, "caption") == "step 14 of 15 · backward"
    assert text_of(page, "step-title") == "backward pass: d sends its gradient back"
    assert {"current", "upstream"} <= classes_of(page, nodes["d = b + 1"])
    assert "received" in classes_of(page, nodes["b"])
    assert text_of(page, nodes["b"] + "-grad") == "∂e/∂b = 2 + 3 = 5"
    lines = text_of(page, "step-lines")
    assert "running sum at b: 2 + 3 = 5" in lines and "contribution 3 × 1 = 3" in lines
    # The edge b → d carries the local derivative and the contribution; b → c says nothing now.
    edges = {
        (e["src"], e["dst"]): e["id"] for e in data_of(path.read_text(encoding="utf-8"))["edges"]
    }
    bd, bc = edges[(nodes["b"], nodes["d = b + 1"])], edges[(nodes["b"], nodes["c = a + b"])]
    assert [p for p in text_of(page, bd + "-label").split("|") if p] == ["local 1", "3 × 1 = 3"]
    assert text_of(page, bc + "-label").strip("|") == ""
    assert "current" in classes_of(page, bd) and "current" not in classes_of(page, bc)

    page = dom(url + "#step=9", tmp_path)
    assert text_of(page, "caption") == "step 9 of 15 · tangent"
    assert "∂e/∂b = ∂e/∂c·∂c/∂b + ∂e/∂d·∂d/∂b = 2 × 1 + 3 × 1 = 5" in text_of(page, "step-lines")
    assert text_of(page, nodes["e = c × d"] + "-tan") == "∂e/∂b = 5"

    page = dom(url + "#step=99", tmp_path)  # past the end: the last step
    assert text_of(page, "caption") == "step 15 of 15 · backward"
    assert "forward mode gave ∂e/∂b = 5" in text_of(page, "step-lines")


@needs_chromium
def test_arrow_keys_and_buttons_move_and_set_the_fragment(tmp_path):
    page = explain(E, a=2, b=1).html()
    # The test drives the page's own handlers: three presses of → from step 2, one ←, a click
    # on "next", then writes where it landed into the DOM for --dump-dom to read.
    drive = """<script>
for (const key of ["ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft"]) {
  document.dispatchEvent(new KeyboardEvent("keydown", {key: key}));
}
document.getElementById("next").click();
document.body.setAttribute("data-hash", window.location.hash);
</script>
</body>"""
    path = tmp_path / "driven.html"
    path.write_text(page.replace("</body>", drive), encoding="utf-8")
    got = dom(path.as_uri() + "#step=2", tmp_path)
    assert 'data-step="5"' in got and 'data-hash="#step=5"' in got
    assert text_of(got, "caption") == "step 5 of 10 · forward"


@needs_chromium
def test_screenshot_shows_the_highlighted_step(tmp_path):
    from PIL import Image

    path = tmp_path / "neuron.html"
    ex = explain("sigmoid(w0*x0 + w1*x1 + w2)", w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    path.write_text(ex.html(forward="w0"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    chromium(
        "--window-size=1400,900", f"--screenshot={shot}", path.as_uri() + "#step=20",
        tmp_path=tmp_path,
    )  # fmt: skip
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text and shapes, not a blank page
    # The current node's orange outline (#fb8500) is drawn.
    assert sum(n for n, rgb in colours if rgb == (0xFB, 0x85, 0x00)) > 100
