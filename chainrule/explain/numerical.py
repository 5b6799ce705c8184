"""The numerical check as the texts do it: nudge one input by h, evaluate f again, and compare the
slope with backpropagation's gradient, saying where the comparison cannot agree.

Each input element costs two evaluations of f (one with a one-sided difference), against one
forward and one backward pass for every gradient at once. Where f has a kink (relu, abs at 0), a
tie (max of equal values) or a pole (x/y at y = 0, log at 0) within h of the point, the two sides
of the nudge see different functions: the ledger's derivative is a convention there, and the
difference quotient is not a derivative at all. Those points are listed, and the rows they spoil
are marked, rather than printing a large disagreement silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from chainrule.autograd.check import central_differences
from chainrule.autograd.creation import tensor
from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp


@dataclass
class NumericalRow:
    """One input element: f nudged up and down, the difference quotient, backprop's value."""

    label: str
    plus: float  # f(x + h)
    minus: float  # f(x − h), or f(x) for a one-sided difference
    estimate: float
    backprop: float
    flagged: bool = False  # disagrees where a kink, tie or pole is within h


@dataclass
class NumericalCheck:
    h: float
    one_sided: bool
    base: float  # f at the point
    rows: list[NumericalRow] = field(default_factory=list)
    evaluations: int = 0  # of f, besides the one at the point
    notes: list[str] = field(default_factory=list)  # kinks, ties and poles near the point


def numerical_check(
    f: Callable[[Mapping[str, xp.ndarray]], float],
    inputs: Mapping[str, xp.ndarray],
    gradients: Mapping[str, xp.ndarray],
    notes: list[str],
    h: float = 1e-6,
    one_sided: bool = False,
) -> NumericalCheck:
    """Difference quotients of ``f`` at ``inputs``, one row per input element.

    Central: (f(x + h) − f(x − h)) / 2h, two evaluations per element; one-sided: (f(x + h) − f(x))
    / h, one per element (and the one at the point).
    """
    check_step(h, inputs)
    with xp.errstate(all="ignore"):
        base = f(inputs)
        out = NumericalCheck(h, one_sided, base, notes=notes)
        for name, x in inputs.items():
            point = xp.array(x, copy=True)  # nudged in place by central_differences

            def f_of(moved: xp.ndarray, name: str = name) -> float:
                return f({**inputs, name: moved})

            at = base if one_sided else None
            for i, plus, minus, est in central_differences(f_of, point, h, at):
                out.evaluations += 1 if one_sided else 2
                bp = float(xp.asarray(gradients[name])[i])
                label = name if x.ndim == 0 else f"{name}[{', '.join(map(str, i))}]"
                bad = not xp.isclose(est, bp, rtol=1e-4, atol=1e-6)
                out.rows.append(NumericalRow(label, plus, minus, est, bp, bool(notes) and bad))
    return out


def check_step(h: float, values: Mapping[str, xp.ndarray]) -> None:
    """Refuses a step ``h`` that cannot measure a slope at ``values`` (name -> array, any
    shape). The rule, for every element x that is nudged: h is finite and > 0, h <= |x| + 1
    (a larger step measures a secant far from x: ``--h 1e308`` gave a NaN slope), x + h and
    x - h are finite and differ from x in float64 (a step below x's spacing moves nothing).

    Raises:
        ValueError: one line naming --h, its value, the element and the limit it breaks.
    """
    if not (h > 0 and math.isfinite(h)):
        raise ValueError(f"--h must be a positive step (finite, > 0), got {h}")
    for name, x in values.items():
        x = xp.asarray(x, dtype=xp.float64)
        for i in xp.ndindex(x.shape):
            v = float(x[i])
            label = name if x.ndim == 0 else f"{name}[{', '.join(map(str, i))}]"
            with xp.errstate(over="ignore"):
                up, down = xp.float64(v) + h, xp.float64(v) - h
            if h > abs(v) + 1:
                raise ValueError(
                    f"--h {h:g} is too large for {label} = {v:g}: the step may be at most "
                    f"|{label}| + 1 = {abs(v) + 1:g}"
                )
            if not (xp.isfinite(up) and xp.isfinite(down)):
                raise ValueError(f"--h {h:g}: {label} = {v:g} moved by it overflows float64")
            if up == v or down == v:
                raise ValueError(
                    f"--h {h:g} is too small for {label} = {v:g}: {label} ± h rounds back to "
                    f"{v:g} in float64; the step must be at least {xp.spacing(abs(v)):g}"
                )


def special_points(steps, name: Callable[[Tensor], str], h: float) -> list[str]:
    """Kinks, ties and poles within ``h`` of the point, one line each, from the ledger's nodes."""
    notes = []
    for step in steps:
        op, y = step.op.name, step.tensor
        ins = [xp.asarray(i._data, dtype=xp.float64) for i in step.op.inputs]
        Y = name(y)
        if op in ("relu", "abs") and (xp.abs(ins[0]) <= h).any():
            notes.append(
                f"{Y} = {op}({name(step.op.inputs[0])}) at 0: a kink; backprop takes one side's "
                "slope (0 for relu and abs), a central difference averages the two"
            )
        elif op in ("maximum", "minimum") and (xp.abs(ins[0] - ins[1]) <= h).any():
            a, b = (name(t) for t in step.op.inputs)
            notes.append(
                f"{Y} = {'max' if op == 'maximum' else 'min'}({a}, {b}) at a tie: chainrule splits "
                "the gradient 0.5/0.5, a nudge moves only the input nudged"
            )
        elif op in ("max", "min") and ins[0].size > 1:
            top = xp.sort(ins[0].ravel())
            if (op == "max" and top[-1] - top[-2] <= h) or (op == "min" and top[1] - top[0] <= h):
                notes.append(
                    f"{Y} = {op}({name(step.op.inputs[0])}) at a tie of its largest values"
                )
        elif op == "div" and (xp.abs(ins[1]) <= h).any():
            notes.append(
                f"{Y} = {name(step.op.inputs[0])}/{name(step.op.inputs[1])} at a pole (the divisor "
                "is 0): f jumps from −∞ to +∞ across it, so no slope exists"
            )
        elif op in ("log", "sqrt") and (ins[0] <= h).any():
            notes.append(
                f"{Y} = {op}({name(step.op.inputs[0])}) at the edge of its domain (≤ 0): f is not "
                "defined on one side of the nudge"
            )
    return notes


def evaluator(
    expression, inputs: Mapping[str, Tensor], fixed: Mapping[str, Tensor] | None = None
) -> Callable[[Mapping[str, xp.ndarray]], float]:
    """f(values) for the expression, evaluated without a graph; ``fixed`` gives the inputs that
    are not varied (the class index k of ``cross_entropy(z, k)``), as they are."""
    from chainrule.explain.evaluate import evaluate

    def f(values: Mapping[str, xp.ndarray]) -> float:
        env = {**(fixed or {}), **{k: tensor(v) for k, v in values.items()}}
        with no_grad():
            r = evaluate(expression, env).result
        return float(r._data if isinstance(r, Tensor) else r)

    return f
