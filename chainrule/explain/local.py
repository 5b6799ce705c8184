"""Local derivatives as the texts write them: the formula, then the numbers, then the value
("∂e/∂c = d = 3", "∂f/∂d = −n/d² = −6/5² = −0.24"), and numbers printed as the texts print them:
a negative factor in parentheses with a true minus sign, ``1 × (−4)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.autograd.tensor import Tensor
from chainrule.explain.ledger import Step

MINUS = "\u2212"


def num(x) -> str:
    """A number with up to 6 significant digits and a true minus sign (−4); a vector as [a, b]."""
    a = np.asarray(x)
    if a.size != 1:
        return "[" + ", ".join(num(v) for v in a.ravel()) + "]"
    v = float(a.reshape(()))
    v = 0.0 if v == 0 else v  # no "-0"
    return f"{v:.6g}".replace("-", MINUS)


def term(x) -> str:
    """``num(x)``, in parentheses when negative, for use inside a product or a sum: ``(−4)``."""
    s = num(x)
    return f"({s})" if s.startswith(MINUS) else s


def formula(step: Step, slot: int, local: np.ndarray, name: Callable[[Tensor], str]) -> str | None:
    """``∂y/∂x = <formula> = <numbers> = <value>`` for input ``slot`` of a scalar node, or None
    where the local derivative is a plain ±1 (add, sub, neg) or the op has no formula here."""
    y = step.tensor
    ins = step.op.inputs
    if local.size != 1 or y._data.size != 1 or any(i._data.size != 1 for i in ins):
        return None
    op = step.op.name
    Y, X = name(y), name(ins[slot])
    x, yv = float(ins[slot]._data), float(y._data)
    head = f"∂{Y}/∂{X}"
    v = num(local)
    parts: list[str] = []
    if op == "mul":
        other = ins[1 - slot]
        parts = [name(other)]
    elif op == "div":
        n, d = ins
        if slot == 0:
            parts = [f"1/{name(d)}", f"1/{term(d._data)}"]
        else:
            parts = [f"{MINUS}{name(n)}/{name(d)}²", f"{MINUS}{term(n._data)}/{term(d._data)}²"]
    elif op == "pow" and len(ins) == 1:
        p = step.op.p
        parts = [f"{num(p)}·{X}^{num(p - 1)}", f"{num(p)} × {term(x)}^{num(p - 1)}"]
        if p == 2:
            parts = [f"2·{X}", f"2 × {term(x)}"]
    elif op == "pow":
        a, b = ins
        if slot == 0:
            parts = [f"{name(b)}·{name(a)}^({name(b)} {MINUS} 1)"]
        else:
            parts = [f"{Y}·ln {name(a)}", f"{term(yv)} × ln {term(a._data)}"]
    elif op == "exp":
        parts = [f"exp({X}) = {Y}"]
    elif op == "log":
        parts = [f"1/{X}", f"1/{term(x)}"]
    elif op == "sqrt":
        parts = [f"1/(2√{X}) = 1/(2{Y})", f"1/(2 × {term(yv)})"]
    elif op == "tanh":
        parts = [f"1 {MINUS} {Y}²", f"1 {MINUS} {term(yv)}²"]
    elif op == "sigmoid":
        parts = [f"{Y}(1 {MINUS} {Y})", f"{term(yv)} × {term(1 - yv)}"]
    elif op == "sin":
        parts = [f"cos {X}", f"cos {term(x)}"]
    elif op == "cos":
        parts = [f"{MINUS}sin {X}", f"{MINUS}sin {term(x)}"]
    elif op == "relu":
        if x > 0:
            return f"{head} = 1, since {X} = {num(x)} > 0"
        if x < 0:
            return f"{head} = 0, since {X} = {num(x)} < 0"
        return (
            f"{head} = {v} at {X} = 0: a kink, where relu has no derivative (chainrule takes {v})"
        )
    elif op in ("maximum", "minimum"):
        other = ins[1 - slot]
        if float(other._data) == x:
            return (
                f"{head} = {v}: a tie ({name(ins[0])} = {name(ins[1])} = {num(x)}), where chainrule "
                "splits the gradient; the texts route it all to one input"
            )
        wins = (x > float(other._data)) == (op == "maximum")
        return f"{head} = {v}, since {X} is the {'one taken' if wins else 'one not taken'}"
    elif op == "abs":
        parts = [f"sign({X})"]
    else:
        return None
    # Drop a step that only repeats the value (∂J/∂v = 3 = 3).
    shown = [p for p in parts if p != v]
    return " = ".join([head, *shown, v])
