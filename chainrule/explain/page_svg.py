"""The page's picture as SVG: module boxes, edges (a forward wire and a backward wire on the
same curve, the second shown in the backward steps with its arrowhead at the producer), edge
labels and nodes, at the positions of a ``Layout``. Text sizes are fixed in pixels (nothing below
11 px); a large graph makes a large picture, which the page scrolls and zooms."""

from __future__ import annotations

import html

from chainrule.explain.i18n import tr, width
from chainrule.explain.page_layout import Layout

# Font sizes in px, and the width of one character at each: DejaVu Sans (what "Helvetica,
# Arial, sans-serif" resolves to on Debian) has digits 0.64 em wide, bold letters up to 0.7 em.
HEAD_PX, TEXT_PX, LABEL_PX = 14, 13, 12
HEAD_CHAR, TEXT_CHAR, LABEL_CHAR = 0.70 * HEAD_PX, 0.64 * TEXT_PX, 0.64 * LABEL_PX
LINE = 16  # px between the lines of a node
LABEL_LINE = 15  # px between the lines of an edge label


def node_size(head: str, texts: list[str], kind: str, lines: int) -> tuple[int, int]:
    """Width and height in px of a node showing ``head`` (bold) and, below it, at most
    ``lines`` of ``texts`` (its longest texts over all steps)."""
    # (width: a Chinese character takes two columns, about 1 em.)
    wide = max([HEAD_CHAR * width(head)] + [TEXT_CHAR * width(t) for t in texts] + [60])
    pad = 36 if kind == "op" else 20  # a pill's round ends take room
    return round(wide + pad), 14 + LINE * (lines + 1)


def label_size(lines: list[list[str]]) -> tuple[int, int]:
    """Width and height in px of an edge label, the largest of the texts it shows over all
    steps (each a list of lines)."""
    longest = max((width(t) for texts in lines for t in texts), default=0)
    count = max((len(texts) for texts in lines), default=0)
    if count == 0:
        return 0, 0
    return round(LABEL_CHAR * longest + 8), LABEL_LINE * count + 4


def svg(
    nodes: list[dict], edges: list[dict], lay: Layout, classes: dict[str, str], lang: str = "en"
) -> str:
    """The ``<svg>`` element: boxes' backgrounds, edges, labels, nodes, then boxes' covers (shown
    when a box is collapsed)."""
    w, h = lay.size
    out = [
        f'<svg id="graph" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="{tr("pg_graph", lang)}">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" '
        'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z"/></marker>'
        '<marker id="arrow-back" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="14" '
        'markerHeight="14" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for k, b in enumerate(lay.boxes):
        b["id"] = f"box{k}"
        out.append(
            f'<g id="box{k}" class="box" data-path="{html.escape(b["path"])}">'
            f'<rect x="{b["x"]}" y="{b["y"]}" width="{b["w"]}" height="{b["h"]}" rx="8"/>'
            f'<text x="{b["x"] + 8}" y="{b["y"] + 17}">{html.escape(box_title(b, classes))}'
            "</text></g>"
        )
    for e in edges:
        out.append(_edge(e, lay))
    for n in nodes:
        out.append(_node(n, lay))
    for b in lay.boxes:
        inside = sum(
            1 for n in nodes if n.get("box") and (n["box"] + ".").startswith(b["path"] + ".")
        )
        out.append(
            f'<g id="{b["id"]}-cover" class="cover" data-box="{b["id"]}">'
            f'<rect x="{b["x"]}" y="{b["y"]}" width="{b["w"]}" height="{b["h"]}" rx="8"/>'
            f'<text x="{b["x"] + 8}" y="{b["y"] + 18}">{html.escape(box_title(b, classes))} ▸'
            f'</text><text class="count" x="{b["x"] + 8}" y="{b["y"] + 36}">'
            f"{tr('pg_cover', lang, n=inside)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def box_title(box: dict, classes: dict[str, str]) -> str:
    path = box["path"]
    return f"{path} ({classes[path]})" if path in classes else path


def _edge(e: dict, lay: Layout) -> str:
    where = lay.edges[e["id"]]
    lx, ly = where.get("label", (0, 0))
    role = html.escape(e["role"] or "")
    return (
        f'<g id="{e["id"]}" class="edge" data-src="{e["src"]}" data-dst="{e["dst"]}">'
        f'<path class="wire" d="{where["d"]}" marker-end="url(#arrow)"/>'
        f'<path class="back" d="{where["d"]}" marker-start="url(#arrow-back)"/>'
        f'<text id="{e["id"]}-label" class="edge-label" x="{lx}" y="{ly}" text-anchor="middle" '
        f'data-role="{role}" data-lines="{e["lines"]}"></text></g>'
    )


def _node(n: dict, lay: Layout) -> str:
    x, y = lay.nodes[n["id"]]
    w, h = n["width"], n["height"]
    rx = h / 2 if n["kind"] == "op" else 8
    rows = [
        f'<g id="{n["id"]}" class="node {n["kind"]}" transform="translate({x},{y})">',
        f'<rect width="{w}" height="{h}" rx="{min(rx, 28)}"/>',
        f'<text class="head" x="{w / 2}" y="{7 + LINE}" text-anchor="middle">'
        f"{html.escape(n['head'])}</text>",
    ]
    for k, key in enumerate(n["keys"]):
        cls = {"value": "value", "tan": "tangent", "grad": "grad"}[key]
        rows.append(
            f'<text id="{n["id"]}-{key}" class="{cls}" x="{w / 2}" y="{7 + LINE * (k + 2)}" '
            'text-anchor="middle"></text>'
        )
    rows.append("</g>")
    return "".join(rows)
