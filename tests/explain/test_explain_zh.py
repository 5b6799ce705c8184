"""explain --lang zh (lang= on the API): the ledger, the learning run, the nudges and the help in
Chinese with the texts' terms; full-width punctuation, the output's own symbols and Chinese names
accepted as input. English stays the default."""

from __future__ import annotations

import string

import pytest

from chainrule.cli import explain as cli
from chainrule.explain import ExplainError, explain, parse_bindings
from chainrule.explain.i18n import CATALOGUE, HELP_ZH, pad, width
from chainrule.explain.parser import normalize

E = "c = a+b; d = b+1; e = c*d"


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_the_e_example_in_chinese_line_by_line():
    got = lines(explain(E, "a=2,b=1", lang="zh").report())
    assert got == [
        "c = a+b; d = b+1; e = c*d 取值 a = 2, b = 1",
        "",
        "前向传播（先输入，每个节点在其输入之后）",
        "节点 运算 输入 值 表达式",
        "a 输入 2",
        "b 输入 1",
        "c add a, b 3 a+b",
        "d add b, 1 2 b+1",
        "e mul c, d 6 c*d",
        "",
        "反向传播（chainrule 的顺序，先输出；贡献 = 上游梯度 × 局部导数）",
        "e mul，上游梯度 1（种子：∂e/∂e = 1）",
        "→ c 局部导数 ∂e/∂c = 2 贡献 1 × 2 = 2",
        "∂e/∂c = d = 2",
        "→ d 局部导数 ∂e/∂d = 3 贡献 1 × 3 = 3",
        "∂e/∂d = c = 3",
        "c add，上游梯度 2",
        "→ a 局部导数 ∂c/∂a = 1 贡献 2 × 1 = 2",
        "→ b 局部导数 ∂c/∂b = 1 贡献 2 × 1 = 2",
        "d add，上游梯度 3",
        "→ b 局部导数 ∂d/∂b = 1 贡献 3 × 1 = 3 b 处的累加：2 + 3 = 5",
        "→ 1 （常数：没有梯度）",
        "",
        "梯度",
        "∂e/∂a = 2",
        "∂e/∂b = 5",
    ]


def test_english_stays_the_default():
    text = explain(E, "a=2,b=1").report()
    assert "backward pass (chainrule's order" in text and "前向传播" not in text


def test_cli_lang_zh_and_full_width_input(capsys):
    assert cli.main(["c = a＋b；d = b＋1；e = c×d", "--at", "a=2，b=1", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "反向传播" in out and "∂e/∂b  =  5" in out
    assert "c = a+b; d = b+1; e = c*d   取值 a = 2, b = 1" in out


@pytest.mark.parametrize(
    "written, ascii_",
    [
        ("c = a＋b；d = b＋1；e = c×d", "c = a+b; d = b+1; e = c*d"),
        ("f = σ（x − y）·2", "f = sigmoid(x - y)*2"),
        ("f = (x−y)² ÷ 2", "f = (x-y)**2 / 2"),
        ("s = sum(Wᵀ @ x)", "s = sum(W.T @ x)"),
        ("f = ３*x", "f = 3*x"),
    ],
)
def test_the_outputs_symbols_and_full_width_punctuation_are_read(written, ascii_):
    assert normalize(written) == ascii_
    at = "x=[1,2],W=[[1,2],[3,4]]" if "W" in written else "a=2,b=1,x=0.5,y=-1"
    used = {"W", "x"} if "W" in written else set()
    values = {k: v for k, v in parse_bindings(at).items() if k in written or k in used}
    got = explain(written, values)
    want = explain(ascii_, values)
    assert got.gradients.keys() == want.gradients.keys()
    for k in got.gradients:
        assert (got.gradients[k] == want.gradients[k]).all()


def test_chinese_names_and_the_learning_run_in_chinese():
    ex = explain("误差 = (输入*权重 - 目标)**2", "输入=2，权重=0.5，目标=0.8", lang="zh")
    assert list(ex.gradients) == ["输入", "权重", "目标"]
    assert float(ex.gradients["权重"]) == pytest.approx(0.8)  # 2·(1.0 − 0.8)·2
    run = ex.learn("权重", lr=0.05, steps=2)
    got = lines(run.report())
    assert got[0] == "用梯度下降学习 权重：权重 ← 权重 − α·∂误差/∂权重，学习率 α = 0.05，共 2 步"
    assert got[1] == "开始：权重 = 0.5，误差 = 0.04"
    assert got[2] == "步 权重 误差 梯度 ∂误差/∂权重 更新 −α·梯度 新的 权重 新的 误差"
    assert got[3] == "1 0.5 0.04 0.8 −0.04 0.46 0.0144"
    assert got[-1].startswith("注意：这里的梯度是平方的真实导数")
    # Columns line up in a terminal: each CJK character takes two columns.
    raw = run.report().splitlines()
    assert width(raw[2].split("误差")[0]) == width(raw[3].split("0.04")[0])


def test_nudges_in_chinese(capsys):
    argv = ["u = b*c；v = a + u；J = 3×v", "--at", "a=5", "b=3", "c=2", "--nudge", "u"]
    assert cli.main([*argv, "--h", "0.001", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "把 u 增加 0.001：J 从 33 变为 33.003" in out


def test_a_caret_after_a_chinese_name_lands_on_the_character():
    with pytest.raises(ExplainError) as info:
        explain("误差 + 输入 $ 2", {"误差": 1, "输入": 2})
    assert info.value.start == "误差 + 输入 $ 2".index("$")
    with pytest.raises(ExplainError, match="character '€' is not allowed"):
        explain("误差 € 2", {"误差": 1})


def test_the_help_in_chinese(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--lang", "zh", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：chainrule explain")
    for word in ("前向传播", "反向传播", "梯度", "学习率", "局部导数", "选项", "全角标点"):
        assert word in out, word
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "Show backpropagation happen" in capsys.readouterr().out


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_the_catalogue_has_both_languages_and_the_texts_terms():
    for key, entry in CATALOGUE.items():
        assert set(entry) == {"en", "zh"}, key
        en, zh = (_fields(entry[lang]) for lang in ("en", "zh"))
        assert zh <= en and en - zh <= {"s", "es"}, key  # the same values, bar English plurals
    zh = " ".join(e["zh"] for e in CATALOGUE.values()) + " ".join(HELP_ZH.values())
    for term in ("前向传播", "反向传播", "链式法则", "局部导数", "梯度", "学习率", "输入", "输出"):
        assert term in zh or term in CATALOGUE["columns"]["zh"], term
    assert pad("误差", 6) == "误差  " and width("误差") == 4


def test_paths_numerical_check_and_forward_mode_in_chinese():
    ex = explain(E, "a=2,b=1", lang="zh")
    got = lines(ex.report(paths=True, numerical=True, h=0.001, forward="b"))
    assert "∂e/∂b = 5（前向模式）；5（反向传播）（相等）" in got
    assert "路径乘积之和 2 + 3 = 5；反向传播 5 （相等）" in got
    assert "乘法：沿路径 3 次，反向传播 3 次（上游梯度 × 局部导数，输出以下每条边一次）" in got
    assert "数值检验：中心差分 (f(x+h) − f(x−h)) / 2h，h = 0.001" in got
    assert "输入 f(x+h) f(x−h) (f(x+h) − f(x−h))/2h 反向传播 |差|" in got
    assert any(line.startswith("b 6.005001 5.995001 5 5 ") for line in got)
