"""Learning on the page (``--learn NAME --lr A --steps N --html FILE``, ``Learning.html()``):
after the forward and backward pass at the start values, one step per update NAME ← NAME −
α·∂out/∂NAME, showing the gradient, the update, the new value and the new output, with every
node's value computed again at the new value (chainrule's forward pass, through ``explain``).
"""

from __future__ import annotations

from collections.abc import Iterator

from chainrule.backend import xp
from chainrule.explain.i18n import tr
from chainrule.explain.local import num
from chainrule.explain.trace import trace_expression
from chainrule.viz.labels import short


def learn_steps(builder, run, step_class) -> Iterator:
    """The page's steps of ``run`` (a ``Learning``, phase ``"learn"``), one per update; ``builder`` is the
    page's ``_Builder`` (its node ids and node texts), ``step_class`` its ``_Step``."""
    ex, lang = builder.ex, builder.ex.lang
    name, out = run.name, run.out
    values = {k: t._data.copy() for k, t in {**ex.inputs, **ex.fixed}.items()}
    nid = builder.ids[id(ex.inputs[name])]
    oid = builder.ids[id(ex.output)]
    d = f"∂{out}/∂{name}"
    before = ex
    for u in run.updates:
        values[name] = u.new_value
        with xp.errstate(all="ignore"):
            after = trace_expression(ex.expression.text, values, {}, seed=ex.seed, lang=lang)
        # Each node: its value before → after the update, and its gradient at the values
        # before (the backward pass that gave this update). The same expression gives the same
        # nodes in the same order: node i of each explanation is node i of the page.
        for node, old, new in zip(ex.forward, before.forward, after.forward):
            texts = builder.state[builder.ids[id(node)]]
            was, now = short(old._data), short(new._data)
            texts["value"] = now if was == now else f"{was} → {now}"
            g = before.ledger.grad(old)
            if g is not None:
                texts["grad"] = f"∂{out}/∂{ex.name(node)} = {short(g)}"
        before = after
        lines = [
            ("upstream", tr("pg_learn_rule", lang, name=name, d=d, lr=f"{run.lr:g}")),
            ("value", f"{name} = {num(u.value)},  {out} = {num(u.output)}"),
            ("contribution", tr("pg_learn_gradient", lang, d=d, v=num(u.gradient))),
            ("local", tr("pg_learn_update", lang, v=num(u.update))),
            ("sum", tr("pg_learn_new", lang, name=name, v=num(u.new_value))),
            ("value", tr("pg_learn_new", lang, name=out, v=num(u.new_output))),
        ]
        if u.step == len(run.updates) and run.note:
            lines.append(("plain", run.note))
        yield step_class(
            "learn",
            tr("pg_learn_title", lang, k=u.step, n=len(run.updates), name=name, v=num(u.new_value)),
            lines,
            nid,
            received=[oid],
        )
