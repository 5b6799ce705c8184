"""The words and numbers on a graph picture: what each op computes from which operand, the role of
each operand of a non-commutative op, the local derivative on each edge, and numbers printed as the
texts print them (4 significant digits, a true minus sign: ``−0.1966``)."""

from __future__ import annotations

from collections.abc import Callable

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.i18n import tr
from chainrule.explain.ledger import Step
from chainrule.explain.local import derivation, number, short

MINUS = "\u2212"
_SYMBOL = {"add": "+", "sub": MINUS, "mul": "×", "div": "/"}
# Operand roles of the ops whose inputs cannot be swapped, in input order.
ROLES = {
    "sub": ("first", "subtracted"),
    "div": ("numerator", "denominator"),
    "pow": ("base", "exponent"),
    "matmul": ("left", "right"),
}
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def term(a, max_elements: int = 3) -> str:
    """``short(a)``, in parentheses when it is one negative number: ``(−4)``."""
    s = short(a, max_elements)
    return f"({s})" if s.startswith(MINUS) else s


def exponent(p: float) -> str:
    """``²`` for 2, ``⁻¹`` for −1; ``^1.5`` where no superscript digits fit."""
    if float(p).is_integer():
        return str(int(p)).translate(_SUPERSCRIPT)
    return "^" + number(p)


def node_formula(t: Tensor, name: Callable[[Tensor], str | None], op: str) -> str | None:
    """What the node computes, over its operands' names: ``a + b``, ``n4²``, ``σ(n4)``,
    ``w · x``; None where an operand has no name to write (an unnamed intermediate)."""
    node = t._node
    names = [name(i) for i in node.inputs]
    if any(n is None for n in names):
        return None
    if node.name in _SYMBOL and len(names) == 2:
        return f"{names[0]} {_SYMBOL[node.name]} {names[1]}"
    if node.name == "pow":
        if len(names) == 1:
            return f"{names[0]}{exponent(node.p)}"
        return f"{names[0]}^{names[1]}"
    if node.name == "neg":
        return f"{MINUS}{names[0]}"
    if node.name == "matmul":
        return f"{names[0]} {'·' if op == 'dot' else '@'} {names[1]}"
    fn = "σ" if op == "sigmoid" else op
    return f"{fn}({', '.join(names)})"


def role(t: Tensor, slot: int) -> str | None:
    """The operand's role in a non-commutative op (``numerator``, ``exponent``), else None."""
    roles = ROLES.get(t._node.name)
    return roles[slot] if roles and len(t._node.inputs) == len(roles) else None


def local_text(
    step: Step,
    slot: int,
    local: xp.ndarray,
    name: Callable[[Tensor], str | None],
    k: int,
    lang: str = "en",
) -> str | None:
    """The local derivative for an edge: ``∂e/∂c = d = 2``, or ``local 1`` where the tensors have
    no names; None where it is not a number or array of the input's broadcast shape."""
    y, x = step.tensor, step.op.inputs[slot]
    if y._data.size != 1 and not step.op.explained_elementwise():  # a diagonal Jacobian: numbers
        return None
    value = short(local, k)
    Y, X = name(y), name(x)
    if Y is None or X is None:
        return f"{tr('pic_local_word', lang)} {value}"
    head = f"∂{Y}/∂{X}"
    found = None
    if all(n is not None for n in (name(i) for i in step.op.inputs)):
        found = derivation(step, slot, local, lambda t: name(t) or "?")
    if found is None or found[2] is not None or not found[1]:
        return f"{head} = {value}"
    symbolic = found[1][0]
    return f"{head} = {symbolic} = {value}" if symbolic != value else f"{head} = {value}"
