"""``chainrule explain ... --html FILE``: one self-contained page that steps through the forward
pass, forward mode (with ``--forward``) and the backward pass one node at a time.

The page is plain HTML with its style, script and data inline: no network, nothing to install,
and no browser is needed to write it. Python works out everything the page shows, as the state
of the picture at each step (what each node and each highlighted edge says, which node is being
computed, where contributions arrive); the script only shows step N of that list, with buttons,
the arrow keys and the URL fragment ``#step=N`` (steps count from 1).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chainrule.autograd.tensor import Tensor
from chainrule.explain.core import Explanation
from chainrule.explain.forward_mode import ForwardPass, parse_wrt
from chainrule.explain.local import num, term
from chainrule.explain.report import edge_rows, tangent_formulas, tangent_text
from chainrule.viz.labels import node_formula, role, short

_ASSETS = Path(__file__).with_name("page_assets")
_COL_GAP, _ROW_GAP, _NODE_H, _CHAR_W = 180, 50, 72, 7.2


@dataclass
class _Step:
    phase: str  # "forward", "tangent" or "backward"
    title: str
    lines: list[tuple[str, str]]  # (css class, text) for the panel
    node: str | None = None  # the node being computed
    upstream: str | None = None  # the node whose gradient is passed back at this step
    received: list[str] = field(default_factory=list)  # nodes a contribution reaches now
    edges: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # edge -> its label
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # node -> value, tan, grad


def page(ex: Explanation, forward: str | None = None) -> str:
    """The page for an explained expression, as one HTML string (forward mode seeded at input
    ``forward`` when given)."""
    fp = ex.forward_mode(forward) if forward is not None else None
    with np.errstate(all="ignore"):
        b = _Builder(ex, fp)
        steps = b.steps()
        b.layout(steps)  # after the steps: each node is as wide as the longest text it shows
        data = {"nodes": b.node_list, "edges": b.edge_list, "steps": steps}
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    style = (_ASSETS / "page.css").read_text()
    script = (_ASSETS / "page.js").read_text()
    title = html.escape(ex.title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
{style}</style>
</head>
<body>
<header><h1>{title}</h1>
<p class="legend"><span class="value">value</span> · <span class="tangent">tangent</span> ·
<span class="local">local derivative</span> · <span class="contribution">gradient sent back =
upstream × local</span> · <span class="sum">running sum</span></p></header>
<nav>
<button id="first" title="first step (Home)">first</button>
<button id="prev" title="previous step (←)">◀ back</button>
<span id="caption"></span>
<button id="next" title="next step (→)">next ▶</button>
<button id="last" title="last step (End)">last</button>
</nav>
<main>
{b.svg()}
<section id="panel"><h2 id="step-title"></h2><ul id="step-lines"></ul></section>
</main>
<script type="application/json" id="explain-data">{blob}</script>
<script>
{script}</script>
</body>
</html>
"""


class _Builder:
    """Lays the graph out left to right and writes down its state at every step."""

    def __init__(self, ex: Explanation, fp: ForwardPass | None):
        self.ex, self.fp = ex, fp
        self.tensors: list[Tensor] = []
        self.ids: dict[int, str] = {}
        for t in ex.forward:
            for i in t._node.inputs if t._node is not None else ():
                self._add(i)  # constants first appear as an op's input
            self._add(t)
        self.edge_list = []
        self.edge_of: dict[tuple[int, int], str] = {}
        for t in ex.forward:
            if t._node is None:
                continue
            for slot, i in enumerate(t._node.inputs):
                eid = f"e{len(self.edge_list)}"
                self.edge_of[(id(t), slot)] = eid
                self.edge_list.append(
                    {
                        "id": eid,
                        "src": self.ids[id(i)],
                        "dst": self.ids[id(t)],
                        "role": role(t, slot),
                        "slot": slot,
                        "arity": len(t._node.inputs),
                    }
                )
        self.node_list = [self._node_entry(t) for t in self.tensors]
        self.state: dict[str, dict[str, str]] = {n["id"]: {} for n in self.node_list}

    def _add(self, t: Tensor) -> None:
        if id(t) not in self.ids:
            self.ids[id(t)] = f"n{len(self.tensors)}"
            self.tensors.append(t)

    def _constant(self, t: Tensor) -> bool:
        return t._node is None and id(t) not in self.ex.names

    def _node_entry(self, t: Tensor) -> dict:
        ex = self.ex
        if self._constant(t):
            kind, head = "constant", short(t._data)
        elif t._node is None:
            kind, head = "input", ex.name(t)
        else:
            kind = "op"
            formula = node_formula(t, lambda i: _written(ex, i), ex.op(t))
            head = f"{ex.name(t)} = {formula}" if formula else f"{ex.name(t)} {ex.op(t)}"
        return {"id": self.ids[id(t)], "kind": kind, "head": head}

    # ----- layout: a column per rank, inputs at rank 0, each op one right of its inputs -----
    def layout(self, steps: list[dict]) -> None:
        """Places the nodes: x by rank, y by order within the rank, widths to fit ``steps``."""
        longest = {n["id"]: len(n["head"]) for n in self.node_list}
        for s in steps:
            for nid, texts in s["nodes"].items():
                longest[nid] = max(longest[nid], *(len(v) for v in texts.values()))
        rank: dict[int, int] = {}
        for t in self.tensors:
            if t._node is None:
                rank[id(t)] = 0
            else:
                rank[id(t)] = 1 + max(rank.get(id(i), 0) for i in t._node.inputs)
        for t in self.tensors:  # a constant sits in the column just left of its first user
            if self._constant(t):
                users = [u for u in self.tensors if u._node is not None and t in u._node.inputs]
                rank[id(t)] = max(rank[id(users[0])] - 1, 0) if users else 0
        columns: dict[int, list[dict]] = {}
        for t, entry in zip(self.tensors, self.node_list):
            pad = 40 if entry["kind"] == "op" else 20  # a pill's round ends take room
            entry["width"] = round(pad + _CHAR_W * max(longest[entry["id"]], 8))
            columns.setdefault(rank[id(t)], []).append(entry)
        tallest = max(len(c) for c in columns.values())
        x = 20
        for r in sorted(columns):
            col = columns[r]
            width = max(e["width"] for e in col)
            top = 20 + (tallest - len(col)) * (_NODE_H + _ROW_GAP) / 2
            for k, e in enumerate(col):
                e["x"] = round(x + (width - e["width"]) / 2)
                e["y"] = round(top + k * (_NODE_H + _ROW_GAP))
            x += width + _COL_GAP
        self.size = (x - _COL_GAP + 20, 40 + tallest * (_NODE_H + _ROW_GAP))

    def svg(self) -> str:
        w, h = self.size
        by_id = {n["id"]: n for n in self.node_list}
        out = [
            f'<svg id="graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
            'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the expression\'s graph">',
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
            'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
        ]
        for e in self.edge_list:
            s, d = by_id[e["src"]], by_id[e["dst"]]
            x1, y1 = s["x"] + s["width"], s["y"] + _NODE_H / 2
            # Each input arrives at its own point on the left side, in input order, and its
            # labels sit in the gap just before it: the first input's above its arrow, the
            # others' below, so that no two labels of one node fall on each other.
            x2, y2 = d["x"], d["y"] + _NODE_H * (e["slot"] + 1) / (e["arity"] + 1)
            up = e["slot"] == 0
            role_y = y2 - 5 if up else y2 + 14
            label_y = (
                (role_y - 15 if e["role"] else y2 - 5) if up else role_y + (15 if e["role"] else 0)
            )
            role_text = (
                f'<text class="role" x="{x2 - 8}" y="{role_y}" text-anchor="end">'
                f"{html.escape(e['role'])}</text>"
                if e["role"]
                else ""
            )
            out.append(
                f'<g id="{e["id"]}" class="edge">'
                f'<path d="M{x1},{y1} C{x1 + 50},{y1} {x2 - 70},{y2} {x2},{y2}" '
                f'marker-end="url(#arrow)"/>{role_text}'
                f'<text id="{e["id"]}-label" class="edge-label" x="{x2 - 8}" y="{label_y}" '
                f'text-anchor="end" data-up="{int(up)}"></text></g>'
            )
        for n in self.node_list:
            shape = f'<rect width="{n["width"]}" height="{_NODE_H}" rx="{_NODE_H / 2 if n["kind"] == "op" else 8}"/>'
            out.append(
                f'<g id="{n["id"]}" class="node {n["kind"]}" transform="translate({n["x"]},{n["y"]})">'
                f"{shape}"
                f'<text class="head" x="{n["width"] / 2}" y="19" text-anchor="middle">'
                f"{html.escape(n['head'])}</text>"
                f'<text id="{n["id"]}-value" class="value" x="{n["width"] / 2}" y="36" '
                'text-anchor="middle"></text>'
                f'<text id="{n["id"]}-tan" class="tangent" x="{n["width"] / 2}" y="51" '
                'text-anchor="middle"></text>'
                f'<text id="{n["id"]}-grad" class="grad" x="{n["width"] / 2}" y="66" '
                'text-anchor="middle"></text></g>'
            )
        out.append("</svg>")
        return "\n".join(out)

    # ----- the steps -----
    def _snapshot(self, step: _Step) -> dict:
        step.nodes = {k: dict(v) for k, v in self.state.items() if v}
        return {
            "phase": step.phase,
            "title": step.title,
            "lines": step.lines,
            "node": step.node,
            "upstream": step.upstream,
            "received": step.received,
            "edges": step.edges,
            "nodes": step.nodes,
        }

    def steps(self) -> list[dict]:
        out = [self._snapshot(s) for s in self._forward_steps()]
        if self.fp is not None:
            out += [self._snapshot(s) for s in self._tangent_steps()]
        out += [self._snapshot(s) for s in self._backward_steps()]
        out.append(self._snapshot(self._summary()))
        return out

    def _forward_steps(self):
        ex = self.ex
        for t in ex.forward:
            nid, me = self.ids[id(t)], ex.name(t)
            self.state[nid]["value"] = short(t._data)
            if t._node is None:
                yield _Step(
                    "forward",
                    f"forward pass: input {me}",
                    [("value", f"{me} = {num(t._data)}")],
                    nid,
                )
                continue
            formula = node_formula(t, lambda i: _written(ex, i), ex.op(t)) or ex.op(t)
            numbers = node_formula(t, lambda i: term(i._data), ex.op(t))
            text = f"{me} = {formula}" + (f" = {numbers}" if numbers else "") + f" = {num(t._data)}"
            edges = {
                self.edge_of[(id(t), slot)]: [("value", short(i._data))]
                for slot, i in enumerate(t._node.inputs)
            }
            yield _Step(
                "forward", f"forward pass: {me} = {formula}", [("value", text)], nid, edges=edges
            )

    def _tangent_steps(self):
        ex, fp = self.ex, self.fp
        b = fp.wrt
        for t in ex.forward:
            if t._node is None:
                self.state[self.ids[id(t)]]["tan"] = f"∂{ex.name(t)}/∂{b} = {short(fp.tangent(t))}"
        seeded = self.ids[id(fp.seeded)]
        yield _Step(
            "tangent",
            f"forward mode: seed ∂{b}/∂{b} = 1",
            [("tangent", f"∂{b}/∂{b} = 1 (the seed); every other input's tangent is 0")],
            seeded,
        )
        for step in fp.steps:
            t = step.tensor
            nid, me = self.ids[id(t)], ex.name(t)
            self.state[nid]["tan"] = f"∂{me}/∂{b} = {short(step.tangent)}"
            back = ex.ledger.step_of(t)
            edges = {}
            for x in step.terms:
                local = ex.ledger.local(back, x.slot) if back is not None else None
                label = [("local", f"local {short(local)}")] if local is not None else []
                label.append(("tangent", f"× {_paren(short(x.tangent))} = {short(x.value)}"))
                edges[self.edge_of[(id(t), x.slot)]] = label
            lines = [("tangent", tangent_text(ex, fp, step))]
            lines += [("local", f) for f in tangent_formulas(ex, step)]
            yield _Step("tangent", f"forward mode: ∂{me}/∂{b}", lines, nid, edges=edges)
        root = ex.output
        name, index = parse_wrt(b, ex.inputs)
        bp = np.asarray(ex.gradients[name])[index]
        yield _Step(
            "tangent",
            f"forward mode: ∂{ex.name(root)}/∂{b} = {num(fp.tangent(root))}",
            [
                ("tangent", f"∂{ex.name(root)}/∂{b} = {num(fp.tangent(root))} by forward mode"),
                (
                    "plain",
                    f"one forward-mode pass gives the derivative with respect to {b} only; "
                    f"the backward pass below gives all {ex.cost().inputs} at once",
                ),
                ("plain", f"backpropagation will give {num(bp)}"),
            ],
            self.ids[id(root)],
        )

    def _backward_steps(self):
        ex, ledger = self.ex, self.ex.ledger
        root = ex.name(ex.output)
        arrived: dict[int, list[np.ndarray]] = {}
        rid = self.ids[id(ex.output)]
        self.state[rid]["grad"] = f"∂{root}/∂{root} = 1"
        yield _Step(
            "backward",
            f"backward pass: the seed ∂{root}/∂{root} = 1",
            [("upstream", f"the backward pass starts at {root} with ∂{root}/∂{root} = 1")],
            rid,
            upstream=rid,
        )
        for step in ledger.steps:
            t = step.tensor
            nid, me = self.ids[id(t)], ex.name(t)
            lines = [
                ("upstream", f"{me} {ex.op(t)}: upstream ∂{root}/∂{me} = {num(step.upstream)}")
            ]
            edges, received = {}, []
            for (row, why), e in zip(edge_rows(ex, step), step.edges):
                eid = self.edge_of[(id(t), e.slot)]
                if e.contribution is None:
                    lines.append(("plain", f"{row[0]} {row[1]}"))
                    continue
                lines.append(("local", f"{row[0]}  {row[1]}"))
                if why:
                    lines.append(("local", f"    {why}"))
                lines.append(("contribution", f"    {row[2]}"))
                if row[3]:
                    lines.append(("sum", f"    {row[3]}"))
                local = ledger.local(step, e.slot)
                edges[eid] = [
                    ("local", f"local {short(local)}"),
                    (
                        "contribution",
                        f"{_paren(short(step.upstream))} × {_paren(short(local))} = {short(e.contribution)}",
                    ),
                ]
                got = arrived.setdefault(id(e.source), [])
                got.append(e.contribution)
                sid = self.ids[id(e.source)]
                received.append(sid)
                self.state[sid]["grad"] = self._grad_text(e.source, got)
            yield _Step(
                "backward",
                f"backward pass: {me} sends its gradient back",
                lines,
                nid,
                upstream=nid,
                received=received,
                edges=edges,
            )

    def _grad_text(self, t: Tensor, got: list[np.ndarray]) -> str:
        """``∂e/∂b = 2 + 3 = 5`` once all contributions are in; ``… so far 2`` before."""
        ex = self.ex
        head = f"∂{ex.name(ex.output)}/∂{ex.name(t)}"
        total = sum(got[1:], got[0])
        complete = len(got) == len(ex.ledger.received.get(id(t), []))
        if len(got) > 1 and all(np.size(g) == 1 for g in got):
            value = " + ".join(_paren(short(g)) if k else short(g) for k, g in enumerate(got))
            value += f" = {short(total)}"
        else:
            value = short(total)
        return f"{head} = {value}" if complete else f"{head} so far {value}"

    def _summary(self) -> _Step:
        ex = self.ex
        root = ex.name(ex.output)
        lines = [("contribution", f"∂{root}/∂{n} = {num(g)}") for n, g in ex.gradients.items()]
        if self.fp is not None:
            tan = self.fp.tangent(ex.output)
            lines.append(("tangent", f"forward mode gave ∂{root}/∂{self.fp.wrt} = {num(tan)}"))
        return _Step("backward", "the gradient", lines)


def _written(ex: Explanation, t: Tensor) -> str:
    return ex.name(t)


def _paren(s: str) -> str:
    return f"({s})" if s.startswith("\u2212") else s
