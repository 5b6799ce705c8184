"""Nudges as text and as JSON (``--nudge NAME``): the rows ``chainrule.explain.nudge`` computes,
a line per scalar node (``J goes 33 → 33.003``) and a table of every element with its slope
beside backprop's derivative."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.explain.i18n import tr
from chainrule.explain.local import num
from chainrule.explain.nudge import MAX_ROWS, nudge
from chainrule.explain.report import _full, _table


def nudge_lines(ex, names: list[str], h: float) -> list[str]:
    """The nudges of ``names`` as text: a line per scalar node (``J goes 33 → 33.003``) and a
    table of every element with its slope beside backprop's derivative."""
    out, lang = ex.name(ex.output), ex.lang
    base = float(xp.asarray(ex.output._data).reshape(()))
    lines = [tr("nudge_head", lang, h=f"{h:g}", out=out)]
    rows = [tr("nudge_columns", lang, out=out).split("|")]
    said = []
    for name in names:
        found = nudge(ex, name, h)
        for r in found:
            rows.append(
                [r.label, num(r.value), _full(r.up), _full(r.down), num(r.slope), num(r.backprop)]
            )
        if found[0].size > MAX_ROWS:
            rows.append(
                [tr("nudge_more", lang, more=found[0].size - MAX_ROWS, node=name).strip()]
                + [""] * 5
            )
        if found[0].size == 1:
            said.append(
                tr(
                    "nudge_line",
                    lang,
                    node=name,
                    h=f"{h:g}",
                    out=out,
                    base=_full(base),
                    up=_full(found[0].up),
                )
            )
    return lines + [f"  {s}" for s in said] + _table(rows)


def nudges_json(ex, names: list[str], h: float) -> dict:
    """The nudges as JSON-ready data: name -> rows."""
    return {
        "h": h,
        "nodes": {
            name: [
                {
                    "element": r.label,
                    "value": r.value,
                    "up": r.up,
                    "down": r.down,
                    "slope": r.slope,
                    "backprop": r.backprop,
                }
                for r in nudge(ex, name, h)
            ]
            for name in names
        },
    }
