"""The backward pass as text: one header per node (its upstream gradient), one row per input
(the local derivative, the contribution sent back and the running sum where contributions meet),
and below each row the local derivative as the texts write it."""

from __future__ import annotations

from chainrule.explain.i18n import pad, tr, width
from chainrule.explain.ledger import Step
from chainrule.explain.local import formula, num, term
from chainrule.explain.rules import is_matrix_step, is_tensor_step, rule, shape_text
from chainrule.explain.trace import Trace

SPELLED = 4  # a local derivative of up to this many numbers is multiplied out in the row


def step_header(ex: Trace, step: Step) -> str:
    """``n3 mul, upstream 1 (the seed: ∂n3/∂n3 = 1)``; a vector or matrix node adds its shape."""
    t = step.tensor
    me = ex.name(t)
    lang = ex.lang
    seed = tr("seed_note", lang, me=me) if t is ex.output else ""
    shape = f" ({shape_text(t._data, lang)})" if t._data.size != 1 else ""
    up = f"δ = {num(step.upstream)}" if shape else num(step.upstream)
    comma = "，" if lang == "zh" else ", "
    return f"  {me} {ex.op(t)}{shape}{comma}{tr('upstream', lang)} {up}{seed}"


def statement_line(ex: Trace, step: Step) -> str | None:
    """``(8) f = num*invden``: the statement that made the node (numbered from 1)."""
    k = ex.statement_of.get(id(step.tensor))
    if k is None or ex.expression is None:
        return None
    return f"({k + 1}) {ex.expression.statement_text(k)}"


def backward_lines(ex: Trace) -> list[str]:
    """One header per node, then one row per input; the rows of all nodes share column widths.
    With the statements' order, each statement's nodes follow a line naming it."""
    blocks: list[tuple[str, list[tuple[list[str], str | None]]]] = []
    last = None
    for step in ex.ledger.steps:
        if ex.order == "statements":
            named = statement_line(ex, step)
            if named is not None and named != last:
                blocks.append((named, []))
                last = named
        blocks.append((step_header(ex, step), edge_rows(ex, step)))
    widths = [
        max((width(r[i]) for _, rows in blocks for r, _ in rows), default=0) for i in range(4)
    ]
    lines = []
    for head, rows in blocks:
        lines.append(head)
        for r, why in rows:
            lines.append(("    " + "  ".join(pad(c, w) for c, w in zip(r, widths))).rstrip())
            if why:  # the local derivative's formula, below its row
                lines.append(f"         {why}")
    return lines


def edge_rows(ex: Trace, step: Step) -> list[tuple[list[str], str | None]]:
    """The rows of one backward node, one per input: ``[→ src, local ..., contribution ...,
    running sum ...]`` and the local derivative's formula (or None). A vector or matrix node
    whose local derivative is a full Jacobian (``W @ x``, softmax) shows the texts' rule in
    place of upstream × local, with the engine's contribution."""
    me, lang = ex.name(step.tensor), ex.lang
    local_word, contribution = tr("local", lang), tr("contribution", lang)
    matrix, tensor = is_matrix_step(step), is_tensor_step(step)
    rows = []
    for e in step.edges:
        src = ex.name(e.source)
        if e.contribution is None:
            rows.append(([f"→ {src}", tr("constant_edge", lang), "", ""], None))
            continue
        note = ""
        if e.arrival > 1:  # the engine's accumulation: previous sum + this contribution
            where = tr("running_sum", lang, name=src)
            note = f"{where}{num(e.previous)} + {term(e.contribution)} = {num(e.total)}"
        said = rule(step, e.slot, ex.name, lang)
        if matrix:
            row = [
                f"→ {src}",
                f"{local_word} ∂{me}/∂{src}: {said}",
                f"{contribution} {num(e.contribution)}",
                note,
            ]
            rows.append((row, None))
            continue
        local = ex.ledger.local(step, e.slot)
        product = f"{term(step.upstream)} × {term(local)}"
        if local.size > SPELLED:  # a long vector: the product in words, its value after it
            up = "δ" if step.upstream.size > 1 else term(step.upstream)
            product = f"{up} {'⊙' if step.upstream.size > 1 else '×'} {local_word}"
        if local.shape != e.contribution.shape:  # broadcast: summed back to the input's shape
            product = f"sum({product})"
        row = [
            f"→ {src}",
            f"{local_word} ∂{me}/∂{src} = {num(local)}",
            f"{contribution} {product} = {num(e.contribution)}",
            note,
        ]
        why = formula(step, e.slot, local, ex.name)
        if why is None and tensor and said is not None and said not in ("δ", "−δ"):
            why = f"{contribution} = {said}"
        rows.append((row, why))
    return rows
