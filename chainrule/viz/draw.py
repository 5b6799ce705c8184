"""``draw(tensor)``: the computational graph behind a tensor, with forward values and gradients.

How gradients get on the picture: ``draw`` runs chainrule's own reverse pass from ``tensor`` over
the graph as it stands (``cr.grad`` with ``retain_graph=True``, recorded by
``chainrule.explain.record``), so every number in red is the engine's: on each edge, the gradient
that the consumer sent back along it; on each leaf (and on each node used more than once), the
sum of those, d(tensor)/d(node). Leaves' ``.grad`` is neither read nor changed, so the picture shows
the gradient of *this* tensor even after several accumulating ``backward()`` calls. The graph must
still exist: draw before ``backward()``, or call ``backward(retain_graph=True)``.

How modules become boxes: parameters are named from ``params`` (``dict(model.named_parameters())``)
or ``modules=model``; each op is then put in the box of the deepest module M such that the op lies
between M's parameters and the ops that use them directly (it descends from a parameter of M and
leads to an op with a parameter of M as input). For ``Linear`` that is its matmul and bias add; an
activation between two layers of a ``Sequential`` lands in the ``Sequential``'s box; the loss lies
outside every box.

How nodes are labelled: a tensor's ``.name``, where set (``x.name = "x"``), labels its node, with
what it computes over its operands' names (``e = c × d``, ``n5 = n4²``); operands of ``-``, ``/``,
``**`` and matmul are marked on their edges (``numerator``, ``exponent``); parameters are named
from ``params``/``modules``; other ops show their op name.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from chainrule.autograd.engine import toposort
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.gates import boxes_of as gate_boxes
from chainrule.explain.i18n import tr
from chainrule.explain.ledger import Ledger, check_graph, record
from chainrule.viz.labels import local_text, node_formula, role, short, term
from chainrule.viz.render import Graph

GREEN = "#1a7f37"  # forward values
RED = "#cf222e"  # gradients
BLUE = "#0550ae"  # local derivatives
_ROLE_COLOR = "#6e7781"
_OP_FILL = "#fff8c5"
_LEAF_FILL = "#ddf4ff"
_CONST_COLOR = "#6e7781"


def draw(
    tensor: Tensor,
    values: bool = True,
    grads: bool = True,
    path=None,
    format: str = "svg",
    params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None,
    modules=None,
    title: str | None = None,
    max_elements: int = 3,
    rankdir: str | None = None,
    op_names: Mapping[int, str] | None = None,
    lang: str = "en",
) -> Graph:
    """A Graphviz picture of the graph that produced ``tensor``.

    Args:
        tensor: any tensor of a program; its graph must not have been freed by ``backward()``.
        values: write each forward value (green) on the edges leaving it.
        grads: write gradients (red) and local derivatives (blue): on each edge the local
            derivative d(consumer)/d(input) and the gradient sent back along it, upstream × local;
            on leaves and on nodes used more than once their total d(tensor)/d(node) and the
            contributions it sums. A tensor of more than one element is differentiated as its sum
            (seed of ones), as the title says.
        path: where to save the picture (suffix ``.svg``/``.png``/``.pdf``/``.dot``, else
            ``format``); nothing is saved when None.
        format: the format used for a ``path`` without a known suffix.
        params: names of parameters, e.g. ``dict(model.named_parameters())``.
        modules: a model (anything with ``named_parameters()``; ``named_modules()`` gives the
            boxes their class names): its parameters are named and its modules drawn as boxes.
        title: a line written above the graph.
        max_elements: how many numbers of a vector or matrix to show beside its shape.
        rankdir: ``"LR"`` (left to right, as circuit diagrams are drawn), ``"TB"`` (top to
            bottom), ``"RL"`` or ``"BT"``. The default, None, is ``"LR"`` in the DOT text and
            the SVG; a PNG of it too wide to read at 1,600 px is drawn top to bottom instead.
        op_names: id(tensor) -> the name to show for its op (``dot`` for a matmul the user wrote
            as ``dot``); the op's own name otherwise.
        lang: ``"zh"`` writes the legend and the words on nodes and edges in Chinese (Graphviz
            finds a CJK font through fontconfig; setup.sh installs fonts-wqy-microhei).

    Nodes are labelled as the module docstring says. The same graph gives the same DOT text,
    byte for byte, and so the same picture.

    Returns:
        A ``Graph``: ``.source`` (DOT text), ``.save(path)``, ``_repr_svg_`` for Jupyter.

    Example:
        >>> loss = model(x).sum()
        >>> cr.viz.draw(loss, modules=model).save("step.png")
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw: expected a Tensor, got {type(tensor).__name__}")
    check_graph(tensor, where="draw")
    names, classes = _parameter_names(params, modules)
    order = _collect(tensor)
    ledger, seeded = _gradient_ledger(tensor, grads)
    rankdir, turnable = _direction(rankdir)
    builder = _Dot(order, tensor, names, classes, ledger, values, max_elements, op_names or {})
    builder.lang = lang
    builder.module_of.update(gate_boxes(modules))  # an LSTM cell's gates (cr.explain.gates())
    lines = [f"  {x}" for x in builder.title_lines(title, seeded, grads)]
    graph = Graph(builder.build(lines, rankdir), nodes=len(order), turnable=turnable)
    if path is not None:
        graph.save(path, format=format)
    return graph


RANKDIRS = ("LR", "TB", "RL", "BT")


def _direction(rankdir: str | None) -> tuple[str, bool]:
    """The direction to write, and whether a PNG may turn it (only draw's default may)."""
    if rankdir is None:
        return "LR", True
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be LR, TB, RL or BT, got {rankdir!r}")
    return rankdir, False


def _gradient_ledger(tensor: Tensor, grads: bool) -> tuple[Ledger | None, bool]:
    """The ledger of a reverse pass from ``tensor`` (None when no gradients are drawn), and
    whether that pass was seeded with ones because ``tensor`` has more than one element."""
    if not (grads and tensor.requires_grad):
        return None, False
    with xp.errstate(all="ignore"):
        return record(tensor), tensor._data.size != 1


def module_boxes(
    tensor: Tensor, modules=None, params=None
) -> tuple[dict[int, str], dict[int, str], dict[str, str]]:
    """What ``draw`` puts in boxes, for other renderers (``chainrule explain``'s page):
    id(parameter) -> its name (``fc1.weight``), id(tensor) -> the dotted path of the module
    whose box it goes in (for every tensor behind ``tensor``, constants included; absent: no
    box), and module path -> class name."""
    names, classes = _parameter_names(params, modules)
    order = _collect(tensor)
    consumers: dict[int, list[tuple[Tensor, int]]] = {}
    for t in order:
        for slot, i in enumerate(t._node.inputs if t._node is not None else ()):
            consumers.setdefault(id(i), []).append((t, slot))
    return names, _assign_modules(order, consumers, names), classes


def _parameter_names(params, modules) -> tuple[dict[int, str], dict[str, str]]:
    names: dict[int, str] = {}
    classes: dict[str, str] = {}
    if modules is not None:
        if not hasattr(modules, "named_parameters"):
            raise TypeError(
                f"draw: modules= must be a model with named_parameters(), got {type(modules).__name__}"
            )
        for n, p in modules.named_parameters():
            names.setdefault(id(p), n)
        if hasattr(modules, "named_modules"):
            for n, m in modules.named_modules():
                if n:
                    classes[n] = type(m).__name__
    if params is not None:
        items = params.items() if isinstance(params, Mapping) else params
        for n, p in items:
            if not isinstance(p, Tensor):
                raise TypeError(f"draw: params[{n!r}] is a {type(p).__name__}, not a Tensor")
            names[id(p)] = n
    return names, classes


def _collect(root: Tensor) -> list[Tensor]:
    """Every tensor behind ``root`` (constants too), each after its inputs."""
    return toposort([root], constants=True)


class _Dot:
    """Builds the DOT text: node ids, labels, edges, module clusters."""

    lang = "en"  # the language of the picture's words (draw's ``lang``)

    def __init__(
        self, order, root, names, classes, ledger: Ledger | None, values, max_elements, op_names
    ):
        self.order, self.root, self.names, self.classes = order, root, names, classes
        self.ledger, self.values, self.k, self.op_names = ledger, values, max_elements, op_names
        self.ids = {id(t): f"t{i}" for i, t in enumerate(order)}
        self.consumers: dict[int, list[tuple[Tensor, int]]] = {}
        for t in order:
            if t._node is not None:
                for slot, i in enumerate(t._node.inputs):
                    self.consumers.setdefault(id(i), []).append((t, slot))
        self.steps = {id(s.tensor): s for s in ledger.steps} if ledger is not None else {}
        self.module_of = _assign_modules(order, self.consumers, names)

    def title_lines(self, title, seeded, grads) -> list[str]:
        parts = []
        if title:
            parts.append(f"<b>{html.escape(title)}</b>")
        legend = []
        if self.values:
            legend.append(f'<font color="{GREEN}">{self.w("pic_value")}</font>')
        if self.ledger is not None:
            of = self.w("pic_of_sum" if seeded else "pic_of_output")
            legend.append(f'<font color="{BLUE}">{self.w("pic_local")}</font>')
            legend.append(f'<font color="{RED}">{self.w("pic_sent", of=of)}</font>')
        elif grads and not self.root.requires_grad:
            legend.append(self.w("pic_no_grads"))
        if legend:
            parts.append(" · ".join(legend))
        if not parts:
            return []
        return ['labelloc="t";', f"label=<{'<br/>'.join(parts)}>;"]

    def w(self, key: str, **values) -> str:
        """The word ``key`` in the picture's language, escaped for a Graphviz HTML label."""
        return html.escape(tr(key, self.lang, **values))

    def name(self, t: Tensor) -> str | None:
        return self.names.get(id(t)) or t.name

    def operand(self, t: Tensor) -> str | None:
        """How an operand is written in a formula: its name, or a constant's value."""
        name = self.name(t)
        if name is None and t._node is None and not t.requires_grad and t._data.size == 1:
            return short(t._data)
        return name

    def op(self, t: Tensor) -> str:
        return self.op_names.get(id(t), t._node.name)

    def total(self, t: Tensor, what: str) -> str | None:
        """``grad 5 = 2 + 3``: d(output)/d(t) and, where several contributions met, their sum."""
        grad = self.ledger.grad(t) if self.ledger is not None else None
        if grad is None:
            return None
        text = f"{what} {short(grad, self.k)}"
        got = self.ledger.received.get(id(t), [])
        if len(got) > 1 and all(xp.size(g) == 1 for g in got):
            shown = [term(g) if i else short(g) for i, g in enumerate(got[:4])]
            text += " = " + " + ".join(shown) + (" + …" if len(got) > 4 else "")
        return f'<font color="{RED}">{html.escape(text)}</font>'

    def node_line(self, t: Tensor) -> str:
        nid = self.ids[id(t)]
        name = self.name(t)
        rows = []
        if t._node is not None:
            op = self.op(t)
            formula = node_formula(t, self.operand, op)
            if name and formula:
                rows.append(f"<b>{html.escape(name)}</b> = {html.escape(formula)}")
            elif name:
                rows.append(f"<b>{html.escape(name)}</b> {html.escape(op)}")
            else:
                rows.append(f"<b>{html.escape(op)}</b>")
            if len(t.shape) > 0 and not self.values:
                rows.append("×".join(map(str, t.shape)))
            many = len(self.consumers.get(id(t), ())) > 1
            total = self.total(t, tr("pic_sum_grad", self.lang)) if many else None
            if total:
                rows.append(total)
            attrs = f'shape=ellipse, style=filled, fillcolor="{_OP_FILL}"'
        elif t.requires_grad:
            rows.append(f"<b>{html.escape(name or 'leaf')}</b>")
            if t._data.size > 1:
                rows.append("×".join(map(str, t.shape)))
            total = self.total(t, tr("pic_grad", self.lang))
            if total:
                rows.append(total)
            attrs = f'shape=box, style="rounded,filled", fillcolor="{_LEAF_FILL}"'
        else:
            if name:
                rows.append(html.escape(name))
            if t._data.size == 1:
                rows.append(html.escape(short(t._data)))
            else:
                rows.append(f"{self.w('pic_constant')} {'×'.join(map(str, t.shape))}")
            attrs = f'shape=box, style="dashed", color="{_CONST_COLOR}", fontcolor="{_CONST_COLOR}"'
        return f"{nid} [{attrs}, label=<{'<br/>'.join(rows)}>];"

    def edge_label(self, src: Tensor, dst: Tensor | None, slot: int) -> str:
        """One line each: the operand's role, the value (green), the local derivative (blue) and
        the gradient sent back, upstream × local = contribution (red)."""
        rows = []
        if dst is not None and role(dst, slot):
            rows.append((_ROLE_COLOR, tr(f"role_{role(dst, slot)}", self.lang)))
        if self.values:
            rows.append((GREEN, short(src._data, self.k)))
        step = self.steps.get(id(dst)) if dst is not None else None
        if dst is None and self.ledger is not None:
            rows.append((RED, f"{tr('pic_seed', self.lang)} {short(self.ledger.seed, self.k)}"))
        elif step is not None:
            edge = step.edges[slot]
            if edge.contribution is not None:
                local = self.ledger.local(step, slot)
                text = local_text(step, slot, local, self.operand, self.k, self.lang)
                if text:
                    rows.append((BLUE, text))
                g = short(edge.contribution, self.k)
                if local.size == 1 and xp.size(step.upstream) == 1:
                    g = f"{term(step.upstream)} × {term(local)} = {g}"
                rows.append((RED, g))
        if not rows:
            return ""
        cells = "".join(
            f'<tr><td><font color="{c}">{html.escape(text)}</font></td></tr>' for c, text in rows
        )
        return f'label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{cells}</table>>'

    def build(self, head: list[str], rankdir: str) -> str:
        out = [
            "digraph chainrule {",
            f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=12, nodesep=0.3, ranksep=0.5];',
            '  node [fontname="Helvetica", fontsize=11, margin="0.08,0.04"];',
            '  edge [fontname="Helvetica", fontsize=10, color="#57606a", arrowsize=0.7];',
        ]
        out += head
        out += self.cluster_lines()
        for t in self.order:
            if id(t) not in self.module_of:
                out.append("  " + self.node_line(t))
        for t in self.order:
            if t._node is None:
                continue
            for slot, i in enumerate(t._node.inputs):
                label = self.edge_label(i, t, slot)
                out.append(f"  {self.ids[id(i)]} -> {self.ids[id(t)]} [{label}];")
        # The output's own wire: its value and the seed of the backward pass.
        label = self.edge_label(self.root, None, 0)
        out.append(f'  output [shape=plaintext, label="{tr("pic_output", self.lang)}"];')
        out.append(f"  {self.ids[id(self.root)]} -> output [{label}];")
        out.append("}")
        return "\n".join(out) + "\n"

    def cluster_lines(self) -> list[str]:
        members: dict[str, list[Tensor]] = {}
        for t in self.order:
            m = self.module_of.get(id(t))
            if m is not None:
                members.setdefault(m, []).append(t)
        # Every prefix of a used path is a box, so that boxes nest as modules do.
        paths = set()
        for m in members:
            parts = m.split(".")
            paths.update(".".join(parts[: k + 1]) for k in range(len(parts)))
        lines: list[str] = []
        n = 0

        def emit(prefix: str, depth: int) -> None:
            nonlocal n
            n += 1
            pad = "  " * depth
            label = prefix + (f" ({self.classes[prefix]})" if prefix in self.classes else "")
            lines.append(f"{pad}subgraph cluster_{n} {{")
            lines.append(
                f'{pad}  label=<{html.escape(label)}>; labeljust="l"; style="rounded,filled"; '
                'fillcolor="#f6f8fa"; color="#8c959f"; fontsize=11;'
            )
            for t in members.get(prefix, []):
                lines.append(f"{pad}  {self.node_line(t)}")
            for child in sorted(p for p in paths if p.rsplit(".", 1)[0] == prefix and p != prefix):
                if "." in child:
                    emit(child, depth + 1)
            lines.append(f"{pad}}}")

        for top in sorted(p for p in paths if "." not in p):
            emit(top, 1)
        return lines


def _assign_modules(order, consumers, names: dict[int, str]) -> dict[int, str]:
    """id(tensor) -> the dotted path of the module whose box it goes in (absent: no box).

    A parameter goes in its own module's box. An op goes in the box of the deepest module M such
    that the op descends from a parameter of M and leads to (or is) an op that takes a parameter of
    M directly: the ops "between" M's parameters, which is what M computed.
    """
    by_id = {id(t): t for t in order}
    prefixes: dict[str, set[int]] = {}
    out: dict[int, str] = {}
    for tid, name in names.items():
        if tid not in by_id or "." not in name:
            continue
        parts = name.split(".")[:-1]
        out[tid] = ".".join(parts)
        for k in range(1, len(parts) + 1):
            prefixes.setdefault(".".join(parts[:k]), set()).add(tid)
    ops = [t for t in order if t._node is not None]
    for prefix in sorted(prefixes, key=lambda p: p.count(".")):  # deeper modules override
        params = prefixes[prefix]
        direct = {id(t) for t in ops if any(id(i) in params for i in t._node.inputs)}
        below = _reach(params, lambda tid: (id(c) for c, _ in consumers.get(tid, ())))
        above = _reach(
            direct,
            lambda tid: (id(i) for i in (by_id[tid]._node.inputs if by_id[tid]._node else ())),
        )
        for t in ops:
            if id(t) in below and id(t) in above:
                out[id(t)] = prefix
    return out


def _reach(start: set[int], step) -> set[int]:
    seen = set(start)
    stack = list(start)
    while stack:
        for n in step(stack.pop()):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen
