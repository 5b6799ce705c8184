"""The explanation as text (for a terminal) and as JSON-ready data."""

from __future__ import annotations

import math

from chainrule.backend import xp
from chainrule.explain.backward_text import backward_lines, edge_rows, statement_line
from chainrule.explain.forward_mode import ForwardPass, TangentStep, parse_wrt
from chainrule.explain.i18n import pad, plural, tr, width
from chainrule.explain.local import MINUS, fmt, formula, num, term
from chainrule.explain.rules import is_tensor_step, rule, shape_text
from chainrule.explain.trace import Trace

__all__ = ["edge_rows", "fmt", "json_report", "text_report"]


MAX_LISTED = 16  # paths listed per input; the rest are counted


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(pad(c, w) for c, w in zip(r, widths))).rstrip() for r in rows]


def text_report(
    ex: Trace,
    paths: bool = False,
    numerical: bool = False,
    h: float = 1e-6,
    one_sided: bool = False,
    forward: str | None = None,
) -> str:
    root = ex.name(ex.output)
    lines = [ex.title, ""]

    lang = ex.lang
    lines.append(tr("forward_head", lang))
    lines += _table(_forward_rows(ex))
    lines.append("")

    lines.append(
        tr("backward_head_statements" if ex.order == "statements" else "backward_head", lang)
    )
    lines += backward_lines(ex)
    lines.append("")

    lines.append(tr("gradients_head", lang))
    rows = [[f"∂{root}/∂{n}", "=", num(g)] for n, g in ex.gradients.items()]
    lines += _table(rows)

    if forward is not None:
        lines.append("")
        lines += _forward_lines(ex, ex.forward_mode(forward))
    if paths:
        lines.append("")
        lines += _path_lines(ex, root)
    if numerical:
        lines.append("")
        lines += _numerical_lines(ex.numerical_check(h, one_sided), len(ex.forward), lang)
    square = _square(ex)
    if square is not None:  # the texts' ½·error²: say why their numbers are half of these
        lines += ["", tr("square_note", lang, inner=square)]
    if not all(xp.isfinite(t._data).all() for t in ex.forward):
        lines += [
            "",
            tr("nonfinite", lang),
        ]
    return "\n".join(lines)


def _square(ex: Trace) -> str | None:
    """The text of the base where the output is a square, ``(pred - goal)**2``, else None."""
    node = ex.output._node
    if node is None or node.name != "pow" or len(node.inputs) != 1 or node.p != 2:
        return None
    return ex.texts.get(id(node.inputs[0])) or ex.name(node.inputs[0])


def _forward_rows(ex: Trace) -> list[list[str]]:
    """The forward table; a shape column where any node is a vector or a matrix."""
    shaped = any(t._data.size != 1 for t in ex.forward)
    node, op, inputs, shape, value, expression = tr("columns", ex.lang).split("|")
    head = [node, op, inputs, value, expression]
    rows = [head[:3] + [shape] + head[3:] if shaped else head]
    for t in ex.forward:
        ins = "" if t._node is None else ", ".join(ex.name(i) for i in t._node.inputs)
        if t._node is not None and t._node.name == "pow" and len(t._node.inputs) == 1:
            ins += f", {fmt(t._node.p)}"  # x**2: the exponent is a constant of the op
        what = tr("op_input", ex.lang) if t._node is None else ex.op(t)
        row = [ex.name(t), what, ins, fmt(t._data), ex.texts.get(id(t), "")]
        if shaped:
            row.insert(3, shape_text(t._data, ex.lang))
        rows.append(row)
    return rows


def _forward_lines(ex: Trace, fp: ForwardPass) -> list[str]:
    """The tangent of every node in evaluation order, each as the sum of its terms (local × the
    input's tangent), the check against backpropagation, and the cost of both modes."""
    b = fp.wrt
    lang = ex.lang
    lines = [tr("fm_head", lang, b=b)]
    rows: list[tuple[list[str], list[str]]] = []
    for t in ex.forward:
        me = ex.name(t)
        if t._node is None:
            seed = t is fp.seeded
            what = tr("fm_seed", lang) if seed else ""
            word = tr("op_input", lang)
            rows.append(([me, word, f"∂{me}/∂{b} = {num(fp.tangent(t))}{what}"], []))
            continue
        step = next(s for s in fp.steps if s.tensor is t)
        rows.append(([me, ex.op(t), tangent_text(ex, fp, step)], tangent_formulas(ex, step)))
    widths = [max(width(r[i]) for r, _ in rows) for i in range(2)]
    for r, whys in rows:
        lines.append(("  " + "  ".join(pad(c, w) for c, w in zip(r, [*widths, 0]))).rstrip())
        lines += [f"       {why}" for why in whys]
    root, tan = ex.name(ex.output), fp.tangent(ex.output)
    name, index = parse_wrt(b, ex.inputs)
    bp = xp.asarray(ex.gradients[name])[index]
    same = xp.allclose(tan, bp, rtol=1e-9, atol=1e-12)
    verdict = tr("equal" if same else "different", lang)
    lines.append(tr("fm_check", lang, root=root, b=b, fm=num(tan), bp=num(bp), verdict=verdict))
    c = ex.cost()
    each = ", ".join(f"{k} {v:,}" for k, v in c.forward_products.items())
    n = c.inputs
    lines += tr(
        "fm_cost",
        lang,
        n=n,
        s=plural(n, lang),
        es="es" if n != 1 and lang == "en" else "",
        total=c.forward_total,
        each=each,
        reverse=c.reverse_products,
    ).split("\n")
    return lines


def tangent_text(ex: Trace, fp: ForwardPass, step: TangentStep) -> str:
    """``∂e/∂b = ∂e/∂c·∂c/∂b + ∂e/∂d·∂d/∂b = 2 × 1 + 3 × 1 = 5`` for one node."""
    t, b = step.tensor, fp.wrt
    me = ex.name(t)
    head = f"∂{me}/∂{b}"
    if not step.terms:
        return f"{head} = {num(step.tangent)} (does not depend on {b})"
    back = ex.ledger.step_of(t)
    symbolic, numbers = [], []
    scalar = all(xp.size(x.tangent) == 1 for x in step.terms) and xp.size(step.tangent) == 1
    for x in step.terms:
        src = ex.name(x.source)
        local = ex.ledger.local(back, x.slot) if back is not None else None
        direct = x.source is fp.seeded
        # The seeded input's own term is the local alone (its tangent is the seed, 1).
        symbolic.append(head if direct else f"∂{me}/∂{src}·∂{src}/∂{b}")
        one = len(step.terms) == 1  # a lone term needs no parentheses: = −1, not = (−1)
        if scalar and local is not None and xp.size(local) == 1 and not direct:
            numbers.append(f"{term(local)} × {term(x.tangent)}")
        else:
            numbers.append(num(x.value) if one else term(x.value))
    parts = [head]
    if symbolic != [head]:
        parts.append(" + ".join(symbolic))
    shown = " + ".join(numbers)
    value = num(step.tangent)
    if shown != value:
        parts.append(shown)
    parts.append(value)
    return " = ".join(parts)


def tangent_formulas(ex: Trace, step: TangentStep) -> list[str]:
    """The local derivatives' formulas (∂e/∂c = d = 2) of the terms, as the backward ledger
    writes them."""
    back = ex.ledger.step_of(step.tensor)
    if back is None:
        return []
    out = []
    for x in step.terms:
        local = ex.ledger.local(back, x.slot)
        found = formula(back, x.slot, local, ex.name) if local is not None else None
        if found:
            out.append(found)
    return out


def _path_lines(ex: Trace, root: str) -> list[str]:
    summary = ex.paths()
    lang = ex.lang
    lines = [tr("paths_head", lang, root=root)]
    for name, t in ex.inputs.items():
        ps = summary.paths.get(id(t), [])
        rows = []
        for p in ps[:MAX_LISTED]:
            route = " → ".join(ex.name(x) for x in p.tensors)
            factors = " × ".join(_factor(f) for f in p.factors)
            rows.append([f"{name}:" if not rows else "", route, f"{factors} = {fmt(p.product)}"])
        lines += _table(rows)
        if len(ps) > MAX_LISTED:
            lines.append(tr("paths_more", lang, more=len(ps) - MAX_LISTED, all=len(ps)))
        total = summary.total(t)
        bp = ex.gradients[name]
        ok = total is not None and xp.allclose(total, bp, rtol=1e-9, atol=1e-12, equal_nan=True)
        sums = " + ".join(fmt(p.product) for p in ps[:MAX_LISTED])
        if len(ps) > MAX_LISTED:
            sums += " + …"
        what = tr("paths_sum", lang, sums=sums, total=fmt(total))
        if len(ps) == 1:
            what = tr("paths_one", lang)
        if len(ps) > MAX_LISTED:
            what = tr("paths_sum_many", lang, n=len(ps), total=fmt(total))
        verdict = tr("equal" if ok else "different", lang)
        lines.append(tr("paths_check", lang, what=what, bp=fmt(bp), verdict=verdict))
    mults = (summary.path_multiplications, summary.backprop_multiplications)
    adds = (summary.path_additions, summary.backprop_additions)
    lines.append(tr("paths_mults", lang, paths=mults[0], bp=mults[1]))
    lines.append(tr("paths_adds", lang, paths=adds[0], bp=adds[1]))
    return lines


def _factor(j: xp.ndarray) -> str:
    """A local Jacobian, compactly: a number, a row vector, a diagonal, or its shape."""
    rows, cols = j.shape
    if j.size == 1:
        return fmt(j)
    if rows == 1:
        return fmt(j[0])
    if cols == 1:
        return fmt(j[:, 0]) + "ᵀ"
    if rows == cols and xp.array_equal(j, xp.diag(xp.diag(j))):
        return f"diag{fmt(xp.diag(j))}"
    return f"J({rows}×{cols})"


def _numerical_lines(check, nodes: int, lang: str = "en") -> list[str]:
    """The nudges f(x ± h), the difference quotient beside backprop, the cost, and the notes."""
    h = f"{check.h:g}"
    if check.one_sided:
        head = tr("num_head_one_sided", lang, h=h)
        cols = ["input", "f(x+h)", "f(x)", "(f(x+h) − f(x))/h", "backprop", "|difference|"]
    else:
        head = tr("num_head_central", lang, h=h)
        cols = ["input", "f(x+h)", "f(x−h)", "(f(x+h) − f(x−h))/2h", "backprop", "|difference|"]
    word, bp, diff = tr("num_columns", lang).split("|")
    cols[0], cols[4], cols[5] = word, bp, f"|{diff}|"
    rows = [cols]
    for r in check.rows:
        d = abs(r.backprop - r.estimate)
        diff = "nan" if math.isnan(d) else f"{d:.1e}"
        rows.append(
            [r.label, _full(r.plus), _full(r.minus), num(r.estimate), num(r.backprop), diff]
            + ([tr("num_flag", lang)] if r.flagged else [])
        )
    ncols = max(len(r) for r in rows)
    rows = [r + [""] * (ncols - len(r)) for r in rows]
    lines = [head, *_table(rows)]
    per = 1 if check.one_sided else 2
    base = _full(check.base)
    lines.append(tr("num_cost", lang, n=check.evaluations, per=per, base=base, nodes=nodes))
    for note in check.notes:
        lines.append(f"{tr('note', lang)}{note}")
    return lines


def _full(x: float) -> str:
    """f at a nudged point with enough digits to see the nudge (33.003, not 33)."""
    if not math.isfinite(x):
        return str(x)
    return f"{0.0 if x == 0 else x:.10g}".replace("-", MINUS)


def _jsonable(x):
    a = xp.asarray(x, dtype=xp.float64)
    if a.ndim == 0:
        v = float(a)
        return v if math.isfinite(v) else str(v)
    return [_jsonable(v) for v in a]


def json_report(
    ex: Trace, paths: bool = False, numerical: bool = False, forward: str | None = None
) -> dict:
    """The same content as ``text_report``, as a dict of lists, strings and numbers."""
    root = ex.name(ex.output)
    nodes = _nodes_json(ex)
    backward = _backward_json(ex)
    out = {
        "expression": ex.expression.text.strip() if ex.expression is not None else ex.recorded,
        "inputs": {k: _jsonable(v._data) for k, v in ex.inputs.items()},
        "output": {"node": root, "value": _jsonable(ex.output._data)},
        "forward": nodes,
        "backward": backward,
        "gradients": {k: _jsonable(g) for k, g in ex.gradients.items()},
        "order": ex.order,
    }
    if ex.fixed:
        out["fixed"] = {k: _jsonable(v._data) for k, v in ex.fixed.items()}
    if paths:
        out.update(_paths_json(ex))
    if numerical:
        num = ex.numerical()
        out["numerical"] = {k: _jsonable(v) for k, v in num.items()}
    if forward is not None:
        out["forward_mode"] = _forward_json(ex, ex.forward_mode(forward))
    return out


def _nodes_json(ex: Trace) -> list[dict]:
    """Every node of the forward pass: its name, op and value, and its inputs and expression
    when an op made it."""
    nodes = []
    for t in ex.forward:
        entry = {"node": ex.name(t), "op": ex.op(t), "value": _jsonable(t._data)}
        entry["shape"] = list(t._data.shape)
        if t._node is not None:
            entry["inputs"] = [ex.name(i) for i in t._node.inputs]
            entry["expression"] = ex.texts.get(id(t), "")
        nodes.append(entry)
    return nodes


def _backward_json(ex: Trace) -> list[dict]:
    """Every step of the backward ledger with the gradient each of its edges passes on."""
    backward = []
    for step in ex.ledger.steps:
        edges = []
        for e in step.edges:
            edge = {"to": ex.name(e.source)}
            if e.contribution is None:
                edge["constant"] = True
            else:
                edge["local"] = _jsonable(ex.ledger.local(step, e.slot))
                said = rule(step, e.slot, ex.name) if is_tensor_step(step) else None
                if said is not None:
                    edge["rule"] = said
                edge["contribution"] = _jsonable(e.contribution)
                edge["sum_so_far"] = _jsonable(e.total)
                edge["arrival"] = e.arrival
            edges.append(edge)
        entry = {
            "node": ex.name(step.tensor),
            "op": ex.op(step.tensor),
            "upstream": _jsonable(step.upstream),
            "edges": edges,
            "shape": list(step.tensor._data.shape),
        }
        named = statement_line(ex, step)
        if named is not None:
            entry["statement"] = named
        backward.append(entry)
    return backward


def _paths_json(ex: Trace) -> dict:
    """Each input's gradient as a sum over paths, and what the two ways of computing it cost."""
    summary = ex.paths()
    return {
        "paths": {
            name: {
                "paths": [
                    {
                        "route": [ex.name(x) for x in p.tensors],
                        "factors": [_jsonable(f) for f in p.factors],
                        "product": _jsonable(p.product),
                    }
                    for p in summary.paths.get(id(t), [])
                ],
                "sum": _jsonable(summary.total(t)),
                "backpropagated": _jsonable(ex.gradients[name]),
            }
            for name, t in ex.inputs.items()
        },
        "multiplications": {
            "paths": summary.path_multiplications,
            "backprop": summary.backprop_multiplications,
        },
        "additions": {
            "paths": summary.path_additions,
            "backprop": summary.backprop_additions,
        },
    }


def _forward_json(ex: Trace, fp: ForwardPass) -> dict:
    tangents = []
    for t in ex.forward:
        entry = {"node": ex.name(t), "tangent": _jsonable(fp.tangent(t))}
        step = next((s for s in fp.steps if s.tensor is t), None)
        if step is not None:
            entry["terms"] = [
                {
                    "from": ex.name(x.source),
                    "tangent": _jsonable(x.tangent),
                    "contribution": _jsonable(x.value),
                }
                for x in step.terms
            ]
        tangents.append(entry)
    name, index = parse_wrt(fp.wrt, ex.inputs)
    c = ex.cost()
    return {
        "wrt": fp.wrt,
        "tangents": tangents,
        "backpropagated": _jsonable(xp.asarray(ex.gradients[name])[index]),
        "cost": {
            "forward": {"passes": c.inputs, "local_products": c.forward_products},
            "reverse": {"passes": 1, "local_products": c.reverse_products},
        },
    }
