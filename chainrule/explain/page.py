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

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain import page_layout, page_svg
from chainrule.explain.forward_mode import ForwardPass, parse_wrt
from chainrule.explain.i18n import tr
from chainrule.explain.local import num, term
from chainrule.explain.report import edge_rows, tangent_formulas, tangent_text
from chainrule.explain.rules import is_matrix_step, rule
from chainrule.explain.trace import Trace
from chainrule.viz.labels import node_formula, role, short

_ASSETS = Path(__file__).with_name("page_assets")
SMALL = 8  # arrays of at most this many numbers are printed in full
BIG = 60  # nodes above which the page opens with every module box collapsed
PHASES = ("phase_forward", "phase_tangent", "phase_backward", "phase_learn")


@dataclass
class _Step:
    phase: str  # "forward", "tangent" or "backward"
    title: str
    lines: list[tuple[str, str]]  # (css class, text) for the panel
    node: str | None = None  # the node being computed
    upstream: str | None = None  # the node whose gradient is passed back at this step
    received: list[str] = field(default_factory=list)  # nodes a contribution reaches now
    edges: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # edge -> its label


def page(
    ex: Trace,
    forward: str | None = None,
    boxes: dict[int, str] | None = None,
    classes: dict[str, str] | None = None,
    learning=None,
) -> str:
    """The page for an explained expression or recorded step, as one HTML string.

    Args:
        forward: seed forward mode at this input (``"b"``) and show its steps too.
        boxes: id(tensor) -> the dotted path of the module it belongs to (``"fc1"``); each
            module becomes a box in the picture that the reader can collapse and open.
        classes: module path -> class name, written beside the path on its box.
        learning: a ``Learning`` of ``ex`` (``ex.learn(...)``): its updates follow the
            backward pass, one step each.
    """
    fp = ex.forward_mode(forward) if forward is not None else None
    with xp.errstate(all="ignore"):
        b = _Builder(ex, fp, boxes or {})
        steps = b.steps(learning)
        lay = b.layout(steps)  # after the steps: nodes and labels fit the longest text they show
        picture = page_svg.svg(b.node_list, b.edge_list, lay, classes or {}, ex.lang)
        data = {
            "nodes": [
                {**n, "x": lay.nodes[n["id"]][0], "y": lay.nodes[n["id"]][1]} for n in b.node_list
            ],
            "edges": b.edge_list,
            "boxes": lay.boxes,
            "layout": lay.engine,
            "collapsed": len(b.node_list) > BIG,
            "steps": steps,
            "words": {k: tr(f"pg_{k}", ex.lang) for k in ("caption", *PHASES)},
        }
    return _html(ex.title, picture, data, lay.note, ex.lang)


def layout_of(
    ex: Trace, forward: str | None = None, boxes: dict[int, str] | None = None
) -> page_layout.Layout:
    """The layout ``page`` draws with: positions, the engine (``"dot"`` or ``"columns"``) and
    ``source``, the DOT text given to dot (so that a test can run dot on it and compare)."""
    fp = ex.forward_mode(forward) if forward is not None else None
    with xp.errstate(all="ignore"):
        b = _Builder(ex, fp, boxes or {})
        return b.layout(b.steps())


def _html(title_text: str, picture: str, data: dict, note: str, lang: str = "en") -> str:
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    style = (_ASSETS / "page.css").read_text()
    script = (_ASSETS / "page.js").read_text()
    title = html.escape(title_text)
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""

    def w(key: str) -> str:
        return html.escape(tr(f"pg_{key}", lang))

    has_tangents = any(st["phase"] == "tangent" for st in data["steps"])
    tangent = f' <span class="tangent">{w("tangent")}</span> ·' if has_tangents else ""

    def button(bid: str, key: str, tip: str | None = None, text: str | None = None) -> str:
        return f'<button id="{bid}" title="{w(tip or key + "_tip")}">{text or w(key)}</button>'

    return f"""<!DOCTYPE html>
<html lang="{"zh" if lang == "zh" else "en"}">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
{style}</style>
</head>
<body>
<header><h1>{title}</h1>
<p class="legend"><span class="value">{w("value")}</span> ·{tangent}
<span class="local">{w("local")}</span> · <span class="contribution">{w("sent")}</span> {w("arrows")} ·
<span class="sum">{w("sum")}</span></p>{note_html}</header>
<nav>
{button("first", "first")}
{button("prev", "back")}
<span id="caption"></span>
{button("next", "next")}
{button("last", "last")}
<span class="zoom">{button("zoom-out", "", "zoom_out", "−")}
{button("zoom-reset", "", "zoom_reset", "100%")}
{button("zoom-in", "", "zoom_in", "+")}
{button("zoom-fit", "fit")}</span>
<span class="boxes">{button("open-all", "open")}
{button("close-all", "close")}</span>
</nav>
<main>
<div id="view">
{picture}
</div>
<section id="panel"><h2 id="step-title"></h2><ul id="step-lines"></ul></section>
</main>
<script type="application/json" id="explain-data">{blob}</script>
<script>
{script}</script>
</body>
</html>
"""


class _Builder:
    """Writes down the graph's nodes and edges and its state at every step, then lays it out."""

    def __init__(self, ex: Trace, fp: ForwardPass | None, boxes: dict[int, str]):
        self.ex, self.fp, self.box_of = ex, fp, boxes
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
                        "role": tr(f"role_{role(t, slot)}", ex.lang) if role(t, slot) else None,
                        "slot": slot,
                        "arity": len(t._node.inputs),
                    }
                )
        self.node_list = [self._node_entry(t) for t in self.tensors]
        self.state: dict[str, dict[str, str]] = {n["id"]: {} for n in self.node_list}
        self.shown: dict[str, dict[str, str]] = {}  # node -> its texts as last written down
        self.last_label: dict[str, list[tuple[str, str]]] = {}  # edge -> its last backward label

    def layout(self, steps: list[dict]) -> page_layout.Layout:
        """Sizes every node and edge label for the longest text it shows in any step, then
        places them (``page_layout.layout``: Graphviz, else columns)."""
        texts: dict[str, dict[str, str]] = {n["id"]: {} for n in self.node_list}
        labels: dict[str, list[list[str]]] = {e["id"]: [] for e in self.edge_list}
        longest: dict[str, list[str]] = {n["id"]: [] for n in self.node_list}
        for s in steps:
            for nid, changed in s["changed"].items():
                texts[nid].update(changed)
                longest[nid] += changed.values()
            for eid, parts in s["edges"].items():
                labels[eid].append([p[1] for p in parts])
        keys = ["value", "tan", "grad"] if self.fp is not None else ["value", "grad"]
        for n in self.node_list:
            n["keys"] = [] if n["kind"] == "constant" else keys  # a constant's head is its value
            n["width"], n["height"] = page_svg.node_size(
                n["head"], longest[n["id"]], n["kind"], len(n["keys"])
            )
        for e in self.edge_list:
            role_line = [e["role"]] if e["role"] else []
            shown = [role_line + lines for lines in labels[e["id"]]] or [role_line]
            e["label_w"], e["label_h"] = page_svg.label_size(shown)
            e["lines"] = max(len(x) for x in shown)
        boxes = {self.ids[k]: v for k, v in self.box_of.items() if k in self.ids}
        for n in self.node_list:
            n["box"] = boxes.get(n["id"])
        return page_layout.layout(self.node_list, self.edge_list, boxes)

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

    # ----- the steps -----
    def _snapshot(self, step: _Step) -> dict:
        """The step as the page's data. Node texts are given as changes (``changed``: node ->
        its texts, for the nodes whose texts changed at this step): the page replays them, so
        that a 200-node graph does not repeat 200 nodes' texts at each of its 400 steps."""
        changed = {}
        for nid, texts in self.state.items():
            if texts != self.shown.get(nid, {}):
                changed[nid] = dict(texts)
                self.shown[nid] = dict(texts)
        return {
            "phase": step.phase,
            "title": step.title,
            "lines": step.lines,
            "node": step.node,
            "upstream": step.upstream,
            "received": step.received,
            "edges": step.edges,
            "changed": changed,
        }

    def steps(self, learning=None) -> list[dict]:
        out = [self._snapshot(s) for s in self._forward_steps()]
        if self.fp is not None:
            out += [self._snapshot(s) for s in self._tangent_steps()]
        out += [self._snapshot(s) for s in self._backward_steps()]
        out.append(self._snapshot(self._summary()))
        if learning is not None:
            from chainrule.explain.page_learn import learn_steps

            out += [self._snapshot(s) for s in learn_steps(self, learning, _Step)]
        return out

    def _forward_steps(self):
        ex = self.ex
        for t in ex.forward:
            nid, me = self.ids[id(t)], ex.name(t)
            self.state[nid]["value"] = short(t._data)
            if t._node is None:
                yield _Step(
                    "forward",
                    tr("pg_fw_input", ex.lang, me=me),
                    [("value", f"{me} = {_num(t._data)}")],
                    nid,
                )
                continue
            formula = node_formula(t, lambda i: _written(ex, i), ex.op(t)) or ex.op(t)
            numbers = None
            if all(xp.size(i._data) <= SMALL for i in t._node.inputs):
                numbers = node_formula(t, lambda i: term(i._data), ex.op(t))
            text = (
                f"{me} = {formula}" + (f" = {numbers}" if numbers else "") + f" = {_num(t._data)}"
            )
            edges = {
                self.edge_of[(id(t), slot)]: [("value", short(i._data))]
                for slot, i in enumerate(t._node.inputs)
            }
            yield _Step(
                "forward",
                tr("pg_fw_node", ex.lang, me=me, formula=formula),
                [("value", text)],
                nid,
                edges=edges,
            )

    def _tangent_steps(self):
        ex, fp = self.ex, self.fp
        b, lw = fp.wrt, tr("pg_local_word", ex.lang)
        for t in ex.forward:
            if t._node is None:
                self.state[self.ids[id(t)]]["tan"] = f"∂{ex.name(t)}/∂{b} = {short(fp.tangent(t))}"
        seeded = self.ids[id(fp.seeded)]
        yield _Step(
            "tangent",
            tr("pg_fm_seed", ex.lang, b=b),
            [("tangent", tr("pg_fm_seed_line", ex.lang, b=b))],
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
                label = [("local", f"{lw} {short(local)}")] if local is not None else []
                label.append(("tangent", f"× {_paren(short(x.tangent))} = {short(x.value)}"))
                edges[self.edge_of[(id(t), x.slot)]] = label
            lines = [("tangent", tangent_text(ex, fp, step))]
            lines += [("local", f) for f in tangent_formulas(ex, step)]
            yield _Step("tangent", tr("pg_fm_node", ex.lang, me=me, b=b), lines, nid, edges=edges)
        root = ex.output
        name, index = parse_wrt(b, ex.inputs)
        bp = xp.asarray(ex.gradients[name])[index]
        d, v, lang = f"∂{ex.name(root)}/∂{b}", num(fp.tangent(root)), ex.lang
        yield _Step(
            "tangent",
            tr("pg_fm_result", lang, d=d, v=v),
            [
                ("tangent", tr("pg_fm_by", lang, d=d, v=v)),
                ("plain", tr("pg_fm_only", lang, b=b, n=ex.cost().inputs)),
                ("plain", tr("pg_fm_will", lang, v=num(bp))),
            ],
            self.ids[id(root)],
        )

    def _backward_steps(self):
        ex, ledger = self.ex, self.ex.ledger
        root = ex.name(ex.output)
        arrived: dict[int, list[xp.ndarray]] = {}
        rid = self.ids[id(ex.output)]
        self.state[rid]["grad"] = f"∂{root}/∂{root} = 1"
        yield _Step(
            "backward",
            tr("pg_bw_seed", ex.lang, r=root),
            [("upstream", tr("pg_bw_starts", ex.lang, r=root))],
            rid,
            upstream=rid,
        )
        for step in ledger.steps:
            t = step.tensor
            nid, me = self.ids[id(t)], ex.name(t)
            lines = [
                (
                    "upstream",
                    tr(
                        "pg_upstream",
                        ex.lang,
                        me=me,
                        op=ex.op(t),
                        d=f"∂{root}/∂{me}",
                        v=_num(step.upstream),
                    ),
                )
            ]
            edges, received = {}, []
            for e, texts in zip(step.edges, self._edge_lines(step)):
                lines += texts
                if e.contribution is None:
                    continue
                eid = self.edge_of[(id(t), e.slot)]
                edges[eid] = _sent(ex, step, e)
                self.last_label[eid] = edges[eid]
                got = arrived.setdefault(id(e.source), [])
                got.append(e.contribution)
                sid = self.ids[id(e.source)]
                received.append(sid)
                self.state[sid]["grad"] = self._grad_text(e.source, got)
            yield _Step(
                "backward",
                tr("pg_bw_node", ex.lang, me=me),
                lines,
                nid,
                upstream=nid,
                received=received,
                edges=edges,
            )

    def _edge_lines(self, step) -> list[list[tuple[str, str]]]:
        """The panel's lines for each input of a backward step: the ledger's own rows where
        every number of the step is small enough to print in full, else each array's shape and
        first numbers (a 30×784 weight's gradient is not read number by number)."""
        ex = self.ex
        arrays = [step.upstream, step.tensor._data] + [i._data for i in step.op.inputs]
        if all(xp.size(a) <= SMALL for a in arrays):
            out = []
            for row, why in edge_rows(ex, step):
                if row[1] == tr("constant_edge", ex.lang):  # a constant: no gradient
                    out.append([("plain", f"{row[0]} {row[1]}")])
                    continue
                texts = [("local", f"{row[0]}  {row[1]}")]
                texts += [("local", f"    {why}")] if why else []
                texts.append(("contribution", f"    {row[2]}"))
                texts += [("sum", f"    {row[3]}")] if row[3] else []
                out.append(texts)
            return out
        out = []
        me, lang = ex.name(step.tensor), ex.lang
        for e in step.edges:
            src = ex.name(e.source) if xp.size(e.source._data) <= SMALL else self._label(e.source)
            if e.contribution is None:
                out.append([("plain", f"→ {src} {tr('pg_no_grad', lang)}")])
                continue
            local = ex.ledger.local(step, e.slot)
            texts = [
                ("local", f"→ {src}  {tr('pg_local_word', lang)} ∂{me}/∂{src} = {short(local)}"),
                ("contribution", f"    {tr('pg_contribution', lang)} {short(e.contribution)}"),
            ]
            if e.arrival > 1:
                texts.append(("sum", f"    {tr('running_sum', lang, name=src)}{short(e.total)}"))
            out.append(texts)
        return out

    def _label(self, t: Tensor) -> str:
        """A node's name where it has one, else its value in short (a constant image)."""
        return self.ex.names.get(id(t)) or short(t._data)

    def _grad_text(self, t: Tensor, got: list[xp.ndarray]) -> str:
        """``∂e/∂b = 2 + 3 = 5`` once all contributions are in; ``… so far 2`` before."""
        ex = self.ex
        head = f"∂{ex.name(ex.output)}/∂{ex.name(t)}"
        total = sum(got[1:], got[0])
        complete = len(got) == len(ex.ledger.received.get(id(t), []))
        if len(got) > 1 and all(xp.size(g) == 1 for g in got):
            value = " + ".join(_paren(short(g)) if k else short(g) for k, g in enumerate(got))
            value += f" = {short(total)}"
        else:
            value = short(total)
        return f"{head} = {value}" if complete else tr("pg_so_far", ex.lang, head=head, v=value)

    def _summary(self) -> _Step:
        """The last step: every gradient, and every edge keeps its last label (local derivative
        and the gradient sent back), so that the whole backward pass can be read at once."""
        ex = self.ex
        root = ex.name(ex.output)
        lines = [("contribution", f"∂{root}/∂{n} = {_num(g)}") for n, g in ex.gradients.items()]
        if self.fp is not None:
            tan = self.fp.tangent(ex.output)
            d = f"∂{root}/∂{self.fp.wrt}"
            lines.append(("tangent", tr("pg_fm_gave", ex.lang, d=d, v=num(tan))))
        return _Step("backward", tr("pg_gradient", ex.lang), lines, edges=dict(self.last_label))


def _written(ex: Trace, t: Tensor) -> str:
    return ex.name(t)


def _sent(ex: Trace, step, e) -> list[tuple[str, str]]:
    """An edge's label for the gradient it carries back: ``local …`` and ``upstream × local =
    contribution`` for numbers, ``δ ⊙ local`` for arrays of one shape (an elementwise op); where
    the product is not elementwise (``W @ x``, linear, softmax) or is summed back to a broadcast
    input, the texts' rule (``δ hᵀ``, ``W2ᵀ δ``, ``sum(δ)``) and what was sent."""
    sent, up = short(e.contribution), step.upstream
    said = _bare(rule(step, e.slot, ex.name, ex.lang) or "δ")
    if is_matrix_step(step):
        return [("local", said), ("contribution", f"= {sent}")]
    local = ex.ledger.local(step, e.slot)
    label = [("local", f"{tr('pg_local_word', ex.lang)} {short(local)}")]
    if xp.size(up) == 1 and xp.shape(local) == xp.shape(e.contribution):  # a number × local
        return label + [("contribution", f"{_paren(short(up))} × {_paren(short(local))} = {sent}")]
    if xp.shape(up) == xp.shape(local) == xp.shape(e.contribution):
        return label + [("contribution", f"{short(up)} ⊙ {short(local)} = {sent}")]
    return label + [("contribution", f"{said} = {sent}")]  # summed back to a broadcast input


def _bare(said: str) -> str:
    """A rule without its aside, short enough for an edge: ``δ hᵀ (an outer product, …)`` is
    ``δ hᵀ``, ``δ ⊙ σ'(z),  σ'(z) = …`` is ``δ ⊙ σ'(z)``; ``sum(δ ⊙ 0.5)`` stays whole."""
    said = said.split(",  ")[0]
    if said.endswith((")", "）")):
        depth = 0
        for k in range(len(said) - 1, -1, -1):
            depth += said[k] in ")）"
            depth -= said[k] in "(（"
            if depth == 0:
                return said[:k].rstrip() if k and said[k - 1] == " " else said
    return said


def _num(x) -> str:
    """A number or a small vector in full (``num``), a larger array in short: shape and first
    numbers."""
    return num(x) if xp.size(x) <= SMALL else short(x)


def _paren(s: str) -> str:
    return f"({s})" if s.startswith("\u2212") else s
