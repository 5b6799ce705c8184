"""Learning on the page: ``--learn NAME --lr A --steps N --html FILE`` and ``Learning.html()``
add one step per update after the backward pass, with the texts' numbers (Trask, chapter 4)."""

from __future__ import annotations

from test_explain_page import data_of

from chainrule.cli import explain as cli
from chainrule.explain import explain

TRASK = "error = (input*weight - goal)**2"


def _heads(data: dict) -> dict[str, str]:
    return {n["head"]: n["id"] for n in data["nodes"]}


def test_each_update_is_a_step_with_the_texts_numbers():
    ex = explain(TRASK, input=2, weight=0.5, goal=0.8)
    data = data_of(ex.learn("weight", lr=0.5, steps=4).html())
    learn = [s for s in data["steps"] if s["phase"] == "learn"]
    assert [s["title"] for s in learn] == [
        "update 1 of 4: weight ← 0.1",
        "update 2 of 4: weight ← 1.3",
        "update 3 of 4: weight ← −2.3",
        "update 4 of 4: weight ← 8.5",
    ]
    # The steps before are the page without learning: forward, backward, the gradient.
    assert len(data["steps"]) == len(data_of(ex.html())["steps"]) + 4
    second = [text for _, text in learn[1]["lines"]]
    assert second[:6] == [
        "weight ← weight − α·∂error/∂weight, learning rate α = 0.5",
        "weight = 0.1,  error = 0.36",
        "gradient ∂error/∂weight = −2.4 (chainrule's backward pass at these values)",
        "update −α·gradient = 1.2",
        "new weight = 1.3",
        "new error = 3.24",
    ]
    assert learn[-1]["lines"][-1][1].startswith("note: this gradient is the true derivative")
    # Every node shows its value before → after, and its gradient at the values before.
    ids = _heads(data)
    nodes = learn[1]["nodes"]
    assert nodes[ids["weight"]] == {"value": "0.1 → 1.3", "grad": "∂error/∂weight = −2.4"}
    assert nodes[ids["error = n2²"]]["value"] == "0.36 → 3.24"
    assert nodes[ids["input"]]["value"] == "2"  # not learned: unchanged
    assert learn[1]["node"] == ids["weight"]


def test_cli_learn_html_and_chinese(tmp_path, capsys):
    out = tmp_path / "learn.html"
    argv = [TRASK, "--at", "input=2", "weight=0.5", "goal=0.8", "--learn", "weight"]
    assert cli.main([*argv, "--lr", "0.05", "--steps", "3", "--html", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    learn = [s for s in data_of(out.read_text())["steps"] if s["phase"] == "learn"]
    # α = 0.1 in the texts (--lr 0.05 here) converges: 0.04, 0.0144, 0.005184, ...
    assert [s["lines"][5][1] for s in learn] == [
        "new error = 0.0144",
        "new error = 0.005184",
        "new error = 0.00186624",
    ]
    zh = data_of(
        explain(TRASK, input=2, weight=0.5, goal=0.8, lang="zh").learn("weight", 0.5, 2).html()
    )
    titles = [s["title"] for s in zh["steps"] if s["phase"] == "learn"]
    assert titles == [
        "第 1 次更新（共 2 次）：weight ← 0.1",
        "第 2 次更新（共 2 次）：weight ← 1.3",
    ]
    assert zh["words"]["phase_learn"] == "学习"
