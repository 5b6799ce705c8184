"""Local derivatives as the texts write them: the formula, then the numbers, then the value
("∂e/∂c = d = 3", "∂f/∂d = −n/d² = −6/5² = −0.24"), and numbers printed as the texts print them:
a negative factor in parentheses with a true minus sign, ``1 × (−4)``."""

from __future__ import annotations

from collections.abc import Callable

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.ledger import Step

MINUS = "\u2212"


SHOWN = 16  # a vector of up to this many numbers is printed whole; larger arrays are abbreviated
FIRST = 4  # numbers shown of an abbreviated array


def abbrev(x, minus: str = "-") -> str:
    """A value as the pictures abbreviate it, with 6 significant digits: a number, a vector of
    up to 16 numbers whole (``[2, -3]``), a small matrix by rows (``[[0.15, 0.2], [0.25, 0.3]]``),
    anything larger as its shape and first numbers (``30×784 [0.1, -0.2, 0.3, 0.05, …]``)."""
    a = xp.asarray(x)
    if a.size == 1:
        v = float(a.reshape(()))
        return f"{0.0 if v == 0 else v:.6g}".replace("-", minus)
    if a.ndim == 1 and a.size <= SHOWN:
        return "[" + ", ".join(abbrev(v, minus) for v in a) + "]"
    if a.ndim == 2 and a.size <= SHOWN:
        return "[" + ", ".join(abbrev(r, minus) for r in a) + "]"
    first = ", ".join(abbrev(v, minus) for v in a.ravel()[:FIRST])
    return f"{'×'.join(map(str, a.shape))} [{first}, …]"


def num(x) -> str:
    """A number with up to 6 significant digits and a true minus sign (−4); a vector as [a, b];
    a matrix or a long vector abbreviated as ``abbrev`` does."""
    a = xp.asarray(x)
    if a.size != 1:
        if a.ndim > 1 or a.size > SHOWN:
            return abbrev(a, MINUS)
        return "[" + ", ".join(num(v) for v in a.ravel()) + "]"
    v = float(a.reshape(()))
    v = 0.0 if v == 0 else v  # no "-0"
    return f"{v:.6g}".replace("-", MINUS)


def fmt(x) -> str:
    """A number with up to 6 significant digits (2, 0.731059, -1.5e-07); a vector as [a, b]."""
    a = xp.asarray(x)
    if a.size == 1:
        v = float(a.reshape(()))
        if v == 0:
            v = 0.0  # no "-0"
        return f"{v:.6g}"
    if a.ndim > 1 or a.size > 16:  # matrices and long vectors: abbreviated, as the pictures do
        return abbrev(a)
    return "[" + ", ".join(fmt(v) for v in a.ravel()) + "]"


def term(x) -> str:
    """``num(x)``, in parentheses when negative, for use inside a product or a sum: ``(−4)``."""
    s = num(x)
    return f"({s})" if s.startswith(MINUS) else s


def number(v: float, digits: int = 4) -> str:
    """One number, ``digits`` significant digits, true minus sign, no ``-0``."""
    v = float(v)
    v = 0.0 if v == 0 else v
    return f"{v:.{digits}g}".replace("-", MINUS)


def short(a, max_elements: int = 3) -> str:
    """A value in a few characters: ``6``, ``[2, −3, −3]``, ``64×10 [0.12, −0.3, 0.05, …]``."""
    a = xp.asarray(a)
    if a.size == 1:
        v = a.reshape(()).item()
        return number(v) if isinstance(v, float) else str(v).replace("-", MINUS)
    flat = a.ravel()
    nums = ", ".join(number(v, 3) for v in flat[:max_elements])
    if a.ndim == 1 and a.size <= max_elements:
        return f"[{nums}]"
    more = ", …" if a.size > max_elements else ""
    return f"{'×'.join(map(str, a.shape))} [{nums}{more}]"


def formula(step: Step, slot: int, local: xp.ndarray, name: Callable[[Tensor], str]) -> str | None:
    """``∂y/∂x = <formula> = <numbers> = <value>`` for input ``slot`` of a scalar node, or None
    where the local derivative is a plain ±1 (add, sub, neg) or the op has no formula here."""
    found = derivation(step, slot, local, name)
    if found is None:
        return None
    head, parts, sentence = found
    if sentence is not None:
        return sentence
    v = num(local)
    # Drop a step that only repeats the value (∂J/∂v = 3 = 3).
    shown = [p for p in parts if p != v]
    return " = ".join([head, *shown, v])


def derivation(
    step: Step, slot: int, local: xp.ndarray, name: Callable[[Tensor], str]
) -> tuple[str, list[str], str | None] | None:
    """The pieces of ``formula``: the head ``∂y/∂x``, the steps (the symbolic form first, then
    the numbers put in) and, for the ops whose derivative depends on a case (relu, max at a tie),
    the whole sentence instead; None where there is no formula to show."""
    y = step.tensor
    ins = step.op.inputs
    if local.size != 1 or y._data.size != 1 or any(i._data.size != 1 for i in ins):
        return None
    head = f"∂{name(y)}/∂{name(ins[slot])}"
    if step.op.name in _BY_CASE:
        return head, [], _by_case(step, slot, head, num(local), name)
    parts = _symbolic(step, slot, name)
    return None if parts is None else (head, parts, None)


_BY_CASE = ("relu", "maximum", "minimum")


def _symbolic(step: Step, slot: int, name: Callable[[Tensor], str]) -> list[str] | None:
    """The derivative of scalar op ``step`` in its input ``slot``: the symbolic form, then (where
    it differs) the numbers put in; None for an op without a formula here."""
    op, ins, y = step.op.name, step.op.inputs, step.tensor
    Y, X = name(y), name(ins[slot])
    x, yv = _one(ins[slot]._data), _one(y._data)
    if op == "mul":
        return [name(ins[1 - slot])]
    if op == "div":
        n, d = ins
        if slot == 0:
            return [f"1/{name(d)}", f"1/{term(d._data)}"]
        return [f"{MINUS}{name(n)}/{name(d)}²", f"{MINUS}{term(n._data)}/{term(d._data)}²"]
    if op == "pow" and len(ins) == 1:
        p = step.op.p
        if p == 2:
            return [f"2·{X}", f"2 × {term(x)}"]
        return [f"{num(p)}·{X}^{num(p - 1)}", f"{num(p)} × {term(x)}^{num(p - 1)}"]
    if op == "pow":
        a, b = ins
        if slot == 0:
            return [f"{name(b)}·{name(a)}^({name(b)} {MINUS} 1)"]
        return [f"{Y}·ln {name(a)}", f"{term(yv)} × ln {term(a._data)}"]
    # The one-input elementwise ops write their derivative beside their class (ops/).
    written = None if step.op.explain is None else step.op.explain.scalar
    if written is None:
        return None
    numbers = {"x": term(x), "y": term(yv), "one_minus_y": term(1 - yv)}
    return [written[0].format(x=X, y=Y), *(w.format(**numbers) for w in written[1:])]


def _by_case(step: Step, slot: int, head: str, v: str, name: Callable[[Tensor], str]) -> str:
    """The sentence for relu, maximum and minimum, whose derivative ``v`` is 1 or 0 by which
    case holds, and which at a kink or a tie is a choice chainrule makes."""
    ins = step.op.inputs
    X, x = name(ins[slot]), _one(ins[slot]._data)
    if step.op.name == "relu":
        if x > 0:
            return f"{head} = 1, since {X} = {num(x)} > 0"
        if x < 0:
            return f"{head} = 0, since {X} = {num(x)} < 0"
        return (
            f"{head} = {v} at {X} = 0: a kink, where relu has no derivative (chainrule takes {v})"
        )
    other = _one(ins[1 - slot]._data)
    if other == x:
        return (
            f"{head} = {v}: a tie ({name(ins[0])} = {name(ins[1])} = {num(x)}), where "
            "chainrule splits the gradient; the texts route it all to one input"
        )
    wins = (x > other) == (step.op.name == "maximum")
    return f"{head} = {v}, since {X} is the {'one taken' if wins else 'one not taken'}"


def _one(a) -> float:
    """The one number of an array of size 1, whatever its shape ((), (1,), (1, 1))."""
    return float(xp.asarray(a).reshape(()))
