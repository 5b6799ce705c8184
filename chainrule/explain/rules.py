"""Local derivatives of vector and matrix nodes as the texts write them.

For a scalar node the ledger prints ``upstream × local`` with numbers. For a node whose operands
are vectors or matrices the texts write the rule instead, with δ for the upstream gradient
(∂out/∂node, of the node's shape):

* ``z = W @ x``: ∂/∂W gives δ xᵀ (an outer product, W's shape), ∂/∂x gives Wᵀ δ (Nielsen's BP2,
  CS231n's ``dW = dz.dot(x.T)``);
* elementwise ``h = σ(z)``: δ ⊙ σ'(z), with σ'(z) = h ⊙ (1 − h) (BP1's ⊙ σ'(z));
* ``s = sum(v)``: δ broadcast to every element of v; ``mean``: δ/n to every element;
* a scalar added to a vector (``z + b``): the contributions of all elements summed back, sum(δ);
* softmax, log_softmax and cross-entropy: their Jacobian-vector products.

The numbers are never computed here: the contribution printed beside a rule is the engine's own
(the ledger's), so a rule is a description of what the engine did, checked by the tests.
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.i18n import tr
from chainrule.explain.ledger import Step

MINUS = "\u2212"

# Ops whose local derivative is not an array the size of the input (a full Jacobian): the row
# shows the rule instead of "upstream × local".
MATRIX_OPS = ("matmul", "linear", "transpose", "softmax", "log_softmax", "cross_entropy")


def is_tensor_step(step: Step) -> bool:
    """A node with a vector or matrix among its output and operands."""
    return step.tensor._data.size != 1 or any(i._data.size != 1 for i in step.op.inputs)


def is_matrix_step(step: Step) -> bool:
    """A node whose rows show the rule in place of upstream × local (see ``MATRIX_OPS``)."""
    op = step.op.name
    if op == "matmul":
        return any(i._data.ndim == 2 for i in step.op.inputs)
    return op in MATRIX_OPS and is_tensor_step(step)


def rule(step: Step, slot: int, name: Callable[[Tensor], str], lang: str = "en") -> str | None:
    """The contribution to input ``slot`` as the texts write it (``δ xᵀ``, ``Wᵀ δ``,
    ``δ ⊙ σ'(z)``), or None where the op has no rule here."""
    op, ins = step.op.name, step.op.inputs
    me, x = name(step.tensor), name(ins[slot])
    other = name(ins[1 - slot]) if len(ins) == 2 else ""
    if op == "matmul":
        return _matmul(ins, slot, name, lang)
    if op == "linear":  # z = x Wᵀ + b, a batch of rows x
        if slot == 0:
            return f"δ {name(ins[1])}"
        if slot == 1:
            return f"δᵀ {name(ins[0])} ({tr('outer', lang, name=x)})"
        return f"Σ δ ({tr('summed_back', lang, shape=_shape(ins[2], lang))})"
    if op == "transpose":
        return tr("transposed", lang)
    if op == "softmax":
        return f"{me} ⊙ (δ − Σ δ ⊙ {me})  (Jacobian diag({me}) − {me} {me}ᵀ)"
    if op == "log_softmax":
        return f"δ − softmax({x}) · Σ δ"
    if op == "cross_entropy":
        return f"δ · (softmax({x}) − onehot(k))"
    if op == "reshape":
        return f"δ reshaped back to {x}'s shape {_shape(ins[0])}"
    if op == "broadcast_to":
        return f"sum(δ) over the broadcast axes, back to {_shape(ins[0])}"
    if op == "sum":
        return f"δ broadcast to every element of {x} (shape {_shape(ins[0])})"
    if op in ("add", "sub", "neg"):
        sign = f"{MINUS}δ" if (op == "sub" and slot == 1) or op == "neg" else "δ"
        return _summed(step, slot, sign, lang)
    if op == "mul":
        return _summed(step, slot, f"δ ⊙ {other}", lang)
    if op == "div":
        f = f"δ ⊙ 1/{other}" if slot == 0 else f"δ ⊙ ({MINUS}{name(ins[0])}/{x}²)"
        return _summed(step, slot, f, lang)
    if op == "pow" and len(ins) == 1:
        p = step.op.p
        return f"δ ⊙ {_g(p)}·{x}" + ("" if p == 2 else f"^{_g(p - 1)}")
    written = step.op.explain  # an elementwise op's derivative, written beside its class
    if written is not None and written.prime is not None:
        prime, value = written.prime
        return f"δ ⊙ {prime.format(x=x)},  {prime.format(x=x)} = {value.format(x=x, y=me)}"
    return None


def _matmul(ins, slot: int, name, lang: str) -> str:
    a, b = ins
    A, B = name(a), name(b)
    if a._data.ndim == 2 and b._data.ndim == 1:  # z = W x
        return f"δ {B}ᵀ ({tr('outer', lang, name=A)})" if slot == 0 else f"{A}ᵀ δ"
    if a._data.ndim == 1 and b._data.ndim == 2:  # z = x W = Wᵀ x
        return f"{B} δ" if slot == 0 else f"{A} δᵀ ({tr('outer', lang, name=B)})"
    return f"δ {B}ᵀ" if slot == 0 else f"{A}ᵀ δ"


def _summed(step: Step, slot: int, text: str, lang: str) -> str:
    """A rule whose result is summed back where the input was broadcast (a scalar bias)."""
    x = step.op.inputs[slot]
    if x._data.shape != step.tensor._data.shape:
        return f"sum({text}) ({tr('summed_back', lang, shape=_shape(x, lang))})"
    return text


def _shape(t: Tensor, lang: str = "en") -> str:
    return shape_text(t._data, lang)


def _g(p: float) -> str:
    return f"{float(p):g}".replace("-", MINUS)


def shape_text(a: xp.ndarray, lang: str = "en") -> str:
    """``2×3`` for a matrix, ``2`` for a vector, ``scalar`` for one number."""
    s = xp.shape(a)
    return tr("scalar", lang) if not s else "×".join(map(str, s))
