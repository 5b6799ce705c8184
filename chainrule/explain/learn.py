"""Learning shown: gradient descent on one input of an explained expression.

Each step is the texts' update, NAME ← NAME − α·∂out/∂NAME: the gradient comes from chainrule's
backward pass (``explain`` at the current values), the update is −α times it, and the expression
is evaluated again at the new value. Trask's hot-and-cold chapter comes out with its numbers
(``error = (input*weight - goal)**2``: at input 10, goal −10 and the texts' α = 1 the error goes
225 → 2,205,225; at input 2, goal 0.8 it overcorrects 0.04 → 0.36 → 3.24 ...; α = 0.1 converges).

The texts' weight_delta, (pred − goal)·input, is the derivative of ½(pred − goal)², half of the
derivative of the error they print; where the output is a square, the report says so in a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from chainrule.backend import xp
from chainrule.explain.i18n import pad, plural, tr, width
from chainrule.explain.learn_plot import plot_learning
from chainrule.explain.local import num
from chainrule.explain.numerical import evaluator
from chainrule.explain.page import page
from chainrule.explain.parser import ExplainError
from chainrule.explain.report import _jsonable, _square
from chainrule.explain.trace import trace_expression


class LearningDiverged(ExplainError):
    """The run went to inf or nan; ``report`` holds the steps made before it stopped."""

    def __init__(self, message: str, report: str, step: int):
        super().__init__(message)
        self.report = report
        self.step = step


@dataclass
class Update:
    """One step of gradient descent."""

    step: int  # 1, 2, ...
    value: xp.ndarray  # NAME before the step
    output: float  # the output before the step
    gradient: xp.ndarray  # ∂out/∂NAME at value, from chainrule's backward pass
    update: xp.ndarray  # −α·gradient
    new_value: xp.ndarray
    new_output: float


@dataclass
class Learning:
    """A run of ``steps`` updates of input ``name`` with learning rate ``lr``."""

    name: str
    out: str  # the output's name
    lr: float
    updates: list[Update] = field(default_factory=list)
    note: str | None = None  # the factor the texts drop, where the output is a square
    lang: str = "en"
    curve: object = None  # f(value of NAME) -> output, for the plot
    plot_note: str | None = None  # set by plot() where the picture could not use the language
    explanation: object = None  # the Explanation at the start values (for html())

    def report(self) -> str:
        """The updates as text: a header, one row per step, the end, and the note."""
        return "\n".join(_lines(self))

    def to_dict(self) -> dict:
        """The run as JSON-ready data, every array in full."""
        return {
            "learn": self.name,
            "output": self.out,
            "lr": self.lr,
            "steps": [
                {
                    "step": u.step,
                    "value": _jsonable(u.value),
                    "output": _jsonable(u.output),
                    "gradient": _jsonable(u.gradient),
                    "update": _jsonable(u.update),
                    "new_value": _jsonable(u.new_value),
                    "new_output": _jsonable(u.new_output),
                }
                for u in self.updates
            ],
            "note": self.note,
        }

    def html(self) -> str:
        """The page of the explanation it started from, its updates after the backward pass
        (one step each: gradient, update, new value, new output, every node's new value)."""
        return page(self.explanation, learning=self)

    def plot(self, path: str) -> str:
        """Draws the output against NAME with the steps marked (against the step number where
        NAME is a vector or a matrix) into ``path`` (.png, .svg, .pdf); returns the path."""
        return plot_learning(self, path)


def learn(ex, name: str, lr: float = 0.1, steps: int = 1) -> Learning:
    """Runs ``steps`` updates ``name ← name − lr·∂out/∂name`` from the values of explanation
    ``ex``; each gradient is chainrule's backward pass at the current values.

    Raises:
        ExplainError: ``name`` is not an input, ``steps`` < 1 or ``lr`` is not a positive number.
        LearningDiverged: a new value or output is inf or nan (the step is named).
    """
    lang = ex.lang
    _check(ex, name, lr, steps)
    values = {k: t._data.copy() for k, t in {**ex.inputs, **ex.fixed}.items()}
    text = ex.expression.text
    run = Learning(name, ex.name(ex.output), float(lr), note=_note(ex, name), lang=lang)
    f = evaluator(ex.expression, {k: None for k in values})
    run.curve = lambda v: f({**values, name: xp.asarray(v, dtype=xp.float64)})
    run.explanation = ex
    current = ex
    for k in range(1, steps + 1):
        g = xp.asarray(current.gradients[name])
        before = values[name]
        update = -lr * g
        after = before + update
        with xp.errstate(all="ignore"):
            new_out = f({**values, name: after})
        u = Update(k, before, float(current.output._data), g, update, after, new_out)
        run.updates.append(u)
        _diverged(run, u, lang)
        values[name] = after
        if k < steps:
            current = trace_expression(text, values, {}, seed=ex.seed, lang=lang)
    return run


def _check(ex, name: str, lr: float, steps: int) -> None:
    lang = ex.lang
    inputs = ", ".join(ex.inputs)
    if name not in ex.inputs:
        computed = ex.expression is not None and name in ex.expression.assigned
        key = "learn_computed" if computed else "learn_not_input"
        raise ExplainError(tr(key, lang, name=name, inputs=inputs))
    if not isinstance(steps, (int, xp.integer)) or steps < 1:
        raise ExplainError(tr("learn_steps", lang, steps=steps))
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ExplainError(tr("learn_lr", lang, lr=lr))


def _diverged(run: Learning, u: Update, lang: str) -> None:
    """Stops the run where the new value or the new output is not finite."""
    for what, v in ((f"new {run.name}", u.new_value), (f"new {run.out}", u.new_output)):
        bad = ~xp.isfinite(xp.asarray(v, dtype=xp.float64))
        if bad.any():
            value = "nan" if xp.isnan(xp.asarray(v)[bad]).any() else "inf"
            message = tr(
                "learn_diverged",
                lang,
                name=run.name,
                step=u.step,
                what=what,
                value=value,
                lr=f"{run.lr:g}",
            )
            raise LearningDiverged(message, run.report(), u.step)


def _note(ex, name: str) -> str | None:
    """The texts' dropped factor: where the output is a square, (...)**2."""
    inner = _square(ex)
    if inner is None:
        return None
    return tr("learn_half_note", ex.lang, inner=inner, name=name, out=ex.name(ex.output))


def _lines(run: Learning) -> list[str]:
    lang, name, out = run.lang, run.name, run.out
    n = len(run.updates)
    lines = [
        tr("learn_head", lang, name=name, out=out, lr=f"{run.lr:g}", steps=n, s=plural(n, lang))
    ]
    if not run.updates:
        return lines
    first = run.updates[0]
    lines.append(
        tr(
            "learn_start",
            lang,
            name=name,
            value=num(first.value),
            out=out,
            output=_exact(first.output),
        )
    )
    cols = tr("learn_columns", lang, name=name, out=out).split("|")
    if xp.size(first.value) != 1:
        lines += _blocks(run, cols)
    else:
        lines += _rows(run, cols)
    last = run.updates[-1]
    lines.append(
        tr(
            "learn_end",
            lang,
            steps=n,
            s=plural(n, lang),
            name=name,
            value=num(last.new_value),
            out=out,
            output=_exact(last.new_output),
            first=_exact(first.output),
        )
    )
    if run.note:
        lines.append(run.note)
    return lines


def _rows(run: Learning, cols: list[str]) -> list[str]:
    """A table, one row per step, for a scalar NAME."""
    rows = [cols]
    for u in run.updates:
        rows.append(
            [
                str(u.step),
                num(u.value),
                _exact(u.output),
                num(u.gradient),
                num(u.update),
                num(u.new_value),
                _exact(u.new_output),
            ]
        )
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [("  " + "  ".join(pad(c, w) for c, w in zip(r, widths))).rstrip() for r in rows]


def _blocks(run: Learning, cols: list[str]) -> list[str]:
    """A block per step for a vector or matrix NAME (a table row would be too wide)."""
    lines = []
    for u in run.updates:
        lines.append(
            f"  {cols[0]} {u.step}: {cols[1]} = {num(u.value)}, {cols[2]} = {_exact(u.output)}"
        )
        for label, v in ((cols[3], u.gradient), (cols[4], u.update), (cols[5], u.new_value)):
            lines.append(f"    {label} = {num(v)}")
        lines.append(f"    {cols[6]} = {_exact(u.new_output)}")
    return lines


def _exact(x: float) -> str:
    """An output with thousands separators where it is whole (2,205,225, as the texts print it)
    and 6 significant digits otherwise."""
    v = float(x)
    if not math.isfinite(v):
        return str(v)
    r = round(v, 9)
    if r == int(r) and abs(r) >= 1000 and abs(r) < 1e15:
        return f"{int(r):,}".replace("-", "\u2212")
    return num(v)
