"""--lang zh on the page and the pictures: their own words from the i18n catalogue, and a CJK
font that Graphviz, matplotlib and Chromium find (setup.sh installs fonts-wqy-microhei)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from test_explain_page import chromium, data_of, dom, needs_chromium, text_of

import chainrule as cr
from chainrule import nn
from chainrule.explain import explain
from chainrule.explain.i18n_page import WORDS

E = "c = a+b; d = b+1; e = c*d"
HAS_CJK = bool(
    shutil.which("fc-list")
    and subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip()
)


def test_every_word_has_both_languages():
    for key, entry in WORDS.items():
        assert entry["en"] and entry["zh"], key
        # The same placeholders in both, so that neither language loses a number.
        assert sorted(_fields(entry["en"])) == sorted(_fields(entry["zh"])), key


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def test_page_words_in_chinese_and_english():
    zh = explain(E, a=2, b=1, lang="zh").html(forward="b")
    assert '<html lang="zh">' in zh
    for word in ("第一步", "◀ 上一步", "下一步 ▶", "最后一步", "适应窗口", "局部导数", "累加"):
        assert word in zh
    data = data_of(zh)
    assert data["words"]["caption"] == "第 {n} 步，共 {total} 步 · {phase}"
    titles = [s["title"] for s in data["steps"]]
    assert titles[0] == "前向传播：输入 a"
    assert "前向模式：种子 ∂b/∂b = 1" in titles
    assert "反向传播：d 把梯度传回" in titles
    assert titles[-1] == "梯度"
    # Before all its contributions are in, b's gradient is "so far" in Chinese.
    assert any(
        n.get("grad") == "∂e/∂b 目前为 2" for s in data["steps"] for n in s["changed"].values()
    )
    # The ledger's rows in the panel are the Chinese ledger's.
    d_step = data["steps"][titles.index("反向传播：d 把梯度传回")]
    assert ["plain", "→ 1 （常数：没有梯度）"] in d_step["lines"]
    # The legend names tangents only where the page has forward mode's steps.
    assert "切向量" in zh and "切向量" not in explain(E, a=2, b=1, lang="zh").html()
    en = explain(E, a=2, b=1).html(forward="b")
    assert '<html lang="en">' in en and ">first</button>" in en and "第一步" not in en
    assert data_of(en)["words"]["caption"] == "step {n} of {total} · {phase}"


def test_picture_words_in_chinese():
    src = explain("q = x/y - z**2", x=1, y=2, z=3, lang="zh").draw().source
    for word in (
        "前向传播的值",
        "局部导数",
        "上游梯度",
        "梯度 ",
        "分子",
        "分母",
        "被减数",
        "种子",
        "输出",
    ):
        assert word in src, word
    en = explain("q = x/y - z**2", x=1, y=2, z=3).draw().source
    assert "numerator" in en and "forward value" in en and "分子" not in en
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 2))
    loss = m(cr.randn(1, 3)).sum()
    step = cr.explain(loss, modules=m, lang="zh")
    assert "局部导数" in step.draw().source and "第一步" in step.html()


@pytest.mark.skipif(not HAS_CJK, reason="no CJK font (Debian: fonts-wqy-microhei; setup.sh)")
def test_matplotlib_finds_the_cjk_font():
    from chainrule.explain.learn_plot import _cjk_font

    assert _cjk_font()


@needs_chromium
@pytest.mark.skipif(not HAS_CJK, reason="no CJK font (Debian: fonts-wqy-microhei; setup.sh)")
def test_chinese_page_in_chromium(tmp_path):
    from PIL import Image

    path = tmp_path / "e.html"
    path.write_text(explain(E, a=2, b=1, lang="zh").html(forward="b"), encoding="utf-8")
    got = dom(path.as_uri() + "#step=13", tmp_path)
    assert text_of(got, "caption") == "第 13 步，共 15 步 · 反向传播"
    assert text_of(got, "step-title") == "反向传播：c 把梯度传回"
    shot = tmp_path / "shot.png"
    chromium(
        "--window-size=1400,900", f"--screenshot={shot}", path.as_uri() + "#step=13",
        tmp_path=tmp_path,
    )  # fmt: skip
    image = Image.open(shot).convert("RGB")
    assert len(image.getcolors(maxcolors=1 << 20)) > 50  # drawn, not blank
