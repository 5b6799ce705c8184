"""Where the page draws each node, edge, edge label and module box.

Positions come from Graphviz's ``dot`` (``dot -Tjson``), given each node's size in pixels (one
pixel = one point, so dot's coordinates are the page's) and each edge label's largest size over
all steps: dot places ranks, orders nodes to avoid crossings, routes edges around nodes and puts
every label beside its edge. Where ``dot`` is missing, a simple column layout is used instead (a
column per rank, inputs first) and ``Layout.note`` says so in one line.

Everything here works on ids and on ``id()`` of tensors, never on tensor values: two constants
``1`` are two nodes, and a tensor is found among an op's inputs by identity (``is``), because
``==`` on tensors compares values.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

from chainrule.viz.render import dot_binary

MARGIN = 20  # pixels around the drawing
LARGE = 100  # nodes above which dot's effort is bounded
DOT_SECONDS = 20  # past this, the column layout is used instead
MAX_SPAN = 1000  # ranks crossed by all edges together above which dot is not tried
BOX_PAD = 12  # pixels between a module box and what it holds (dot's cluster margin)


@dataclass
class Layout:
    """Node ``id`` -> top-left ``x, y``; edge ``id`` -> its SVG path ``d`` and label centre;
    module boxes with their rectangles; the drawing's ``size``; ``engine`` is ``"dot"`` or
    ``"columns"`` and ``note`` one line saying why the second was used."""

    nodes: dict[str, tuple[float, float]]
    edges: dict[str, dict]
    boxes: list[dict]
    size: tuple[int, int]
    engine: str
    note: str = ""
    source: str = field(default="", repr=False)  # the DOT text given to dot


def dot_source(nodes: list[dict], edges: list[dict], boxes: dict[str, str]) -> str:
    """The DOT text for ``dot``: fixed-size boxes for nodes (``width``/``height`` in pixels),
    an invisible label of each edge's largest size (``label_w``/``label_h``), and a cluster per
    module path in ``boxes`` (node id -> dotted module path; nested paths nest)."""
    out = [
        "digraph page {",
        "  graph [rankdir=LR, nodesep=0.35, ranksep=0.45, margin=0, "
        "fontname=Helvetica, fontsize=13, pad=0];",
        '  node [shape=box, fixedsize=true, label=""];',
        # dot's network simplex and crossing minimisation grow fast with long edges (a weight
        # shared by every time step of an unrolled loop); bound their effort on big graphs.
        *(["  graph [nslimit=2, nslimit1=2, mclimit=0.5];"] if len(nodes) > LARGE else []),
        "  edge [arrowhead=normal, arrowsize=0.8];",
    ]
    members: dict[str, list[dict]] = {}
    for n in nodes:
        path = boxes.get(n["id"])
        if path is None:
            out.append(f"  {_node_line(n)}")
        else:
            members.setdefault(path, []).append(n)
    out += _cluster_lines(members)
    for e in edges:
        label = ""
        if e.get("label_w"):
            label = (
                ', label=<<table border="0" cellborder="0" cellpadding="0" cellspacing="0">'
                f'<tr><td fixedsize="true" width="{round(e["label_w"])}" '
                f'height="{round(e["label_h"])}"></td></tr></table>>'
            )
        out.append(f'  {e["src"]} -> {e["dst"]} [id="{e["id"]}"{label}];')
    out.append("}")
    return "\n".join(out) + "\n"


def _node_line(n: dict) -> str:
    return f"{n['id']} [width={n['width'] / 72:.4f}, height={n['height'] / 72:.4f}];"


def _cluster_lines(members: dict[str, list[dict]]) -> list[str]:
    """A cluster per module path; every prefix of a used path is a cluster, so boxes nest."""
    paths: set[str] = set()
    for m in members:
        parts = m.split(".")
        paths.update(".".join(parts[: k + 1]) for k in range(len(parts)))
    lines: list[str] = []

    def emit(prefix: str, depth: int) -> None:
        pad = "  " * depth
        lines.append(f'{pad}subgraph "cluster_{prefix}" {{')
        lines.append(f'{pad}  margin={BOX_PAD}; label=" "; fontsize=14;')
        for n in members.get(prefix, []):
            lines.append(f"{pad}  {_node_line(n)}")
        for child in sorted(p for p in paths if p.rpartition(".")[0] == prefix and p != prefix):
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    for top in sorted(p for p in paths if "." not in p):
        emit(top, 1)
    return lines


def layout(nodes: list[dict], edges: list[dict], boxes: dict[str, str]) -> Layout:
    """Positions from ``dot`` where it is installed (and runs), else the column layout."""
    source = dot_source(nodes, edges, boxes)
    dot = dot_binary()
    if dot is None:
        out = columns(nodes, edges, boxes)
        out.note = "Graphviz's dot was not found: a simple column layout is used instead"
        return out
    if long_edges(nodes, edges) > MAX_SPAN:
        out = columns(nodes, edges, boxes)
        out.note = (
            "many long edges (a value used at many steps, as a shared weight): a column layout "
            "is used, since Graphviz would take minutes"
        )
        return out
    try:
        proc = subprocess.run(
            [dot, "-Tjson"], input=source.encode(), capture_output=True, timeout=DOT_SECONDS
        )
    except subprocess.TimeoutExpired:
        out = columns(nodes, edges, boxes)
        out.note = f"dot took over {DOT_SECONDS} s on this graph: a column layout is used"
        return out
    if proc.returncode != 0:
        out = columns(nodes, edges, boxes)
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        out.note = f"dot failed ({err[0] if err else proc.returncode}): a column layout is used"
        return out
    out = from_dot_json(json.loads(proc.stdout), nodes)
    out.source = source
    return out


def _ranks(nodes: list[dict], edges: list[dict]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Each node's inputs, and its rank: 0 for a node without inputs, else one more than its
    latest input's (``nodes`` come each after its inputs)."""
    inputs_of: dict[str, list[str]] = {}
    for e in edges:
        inputs_of.setdefault(e["dst"], []).append(e["src"])
    rank: dict[str, int] = {}
    for n in nodes:
        ins = inputs_of.get(n["id"], [])
        rank[n["id"]] = 1 + max(rank[i] for i in ins) if ins else 0
    return inputs_of, rank


def long_edges(nodes: list[dict], edges: list[dict]) -> int:
    """The ranks all edges cross together, with each op one rank right of its latest input:
    dot routes an edge through one virtual node per rank it crosses, and its time grows fast
    with their number (a weight shared by 60 steps of a loop crosses about 1,800)."""
    inputs_of, rank = _ranks(nodes, edges)
    # dot shortens edges: a leaf sits just left of its first user, not in the first column.
    for n in nodes:
        if not inputs_of.get(n["id"]):
            users = [rank[e["dst"]] for e in edges if e["src"] == n["id"]]
            rank[n["id"]] = min(users) - 1 if users else 0
    return sum(max(rank[e["dst"]] - rank[e["src"]] - 1, 0) for e in edges)


def from_dot_json(data: dict, nodes: list[dict]) -> Layout:
    """Reads ``dot -Tjson``'s output: dot's y axis points up, the page's down, so y is flipped;
    everything is shifted by ``MARGIN``."""
    _, _, w, h = (float(v) for v in data["bb"].split(","))
    size = {n["id"]: (n["width"], n["height"]) for n in nodes}

    def pt(x: float, y: float) -> tuple[float, float]:
        return round(x + MARGIN, 2), round(h - y + MARGIN, 2)

    placed: dict[str, tuple[float, float]] = {}
    boxes = []
    for obj in data.get("objects", []):
        if obj["name"].startswith("cluster_"):
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            left, top = pt(x0, y1)
            boxes.append(
                {"path": obj["name"][len("cluster_") :], "x": left, "y": top,
                 "w": round(x1 - x0, 2), "h": round(y1 - y0, 2)}
            )  # fmt: skip
        elif "pos" in obj and obj["name"] in size:
            cx, cy = pt(*(float(v) for v in obj["pos"].split(",")))
            bw, bh = size[obj["name"]]
            placed[obj["name"]] = (round(cx - bw / 2, 2), round(cy - bh / 2, 2))
    edges = {}
    for e in data.get("edges", []):
        entry = {"d": _spline_path(e["pos"], pt)}
        if "lp" in e:
            entry["label"] = pt(*(float(v) for v in e["lp"].split(",")))
        edges[e["id"]] = entry
    return Layout(placed, edges, boxes, (round(w + 2 * MARGIN), round(h + 2 * MARGIN)), "dot")


def _spline_path(pos: str, pt) -> str:
    """dot's edge ``pos`` (``e,x,y`` the arrow's tip, then cubic Bézier control points) as an SVG
    path ending at the tip, so that a marker at its end is the arrowhead dot made room for."""
    tip = None
    points = []
    for part in pos.split():
        bits = part.split(",")
        if bits[0] == "e":
            tip = pt(float(bits[1]), float(bits[2]))
        elif bits[0] != "s":
            points.append(pt(float(bits[0]), float(bits[1])))
    d = [f"M{points[0][0]},{points[0][1]}"]
    for k in range(1, len(points) - 2, 3):
        (a, b), (c, e), (f, g) = points[k : k + 3]
        d.append(f"C{a},{b} {c},{e} {f},{g}")
    if tip is not None:
        d.append(f"L{tip[0]},{tip[1]}")
    return " ".join(d)


def columns(nodes: list[dict], edges: list[dict], boxes: dict[str, str]) -> Layout:
    """The layout without Graphviz: a column per rank (inputs and constants at the left, each op
    one column right of its latest input; a constant just left of its first user), nodes stacked
    in each column in order, edges as curves between them."""
    _, rank = _ranks(nodes, edges)
    for n in nodes:
        if n["kind"] == "constant":
            users = [e["dst"] for e in edges if e["src"] == n["id"]]
            rank[n["id"]] = max(rank[users[0]] - 1, 0) if users else 0
    cols: dict[int, list[dict]] = {}
    for n in nodes:
        cols.setdefault(rank[n["id"]], []).append(n)
    gap_x = max([e.get("label_w", 0) for e in edges] + [60]) + 40
    placed: dict[str, tuple[float, float]] = {}
    x = MARGIN
    bottom = 0
    for r in sorted(cols):
        width = max(n["width"] for n in cols[r])
        y = MARGIN
        for n in cols[r]:
            placed[n["id"]] = (round(x + (width - n["width"]) / 2, 2), y)
            y += n["height"] + 50
        bottom = max(bottom, y)
        x += width + gap_x
    by_id = {n["id"]: n for n in nodes}
    out_edges = {}
    for e in edges:
        (sx, sy), (dx, dy) = placed[e["src"]], placed[e["dst"]]
        s, t = by_id[e["src"]], by_id[e["dst"]]
        x1, y1, x2, y2 = sx + s["width"], sy + s["height"] / 2, dx, dy + t["height"] / 2
        out_edges[e["id"]] = {
            "d": f"M{x1},{y1} C{x1 + 50},{y1} {x2 - 70},{y2} {x2},{y2}",
            "label": (round((x1 + x2) / 2, 2), round((y1 + y2) / 2 - 10, 2)),
        }
    return Layout(placed, out_edges, [], (round(x - gap_x + MARGIN), bottom + MARGIN), "columns")
