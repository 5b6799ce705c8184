"""Evaluates a checked expression by calling chainrule functions on Tensors (never ``eval``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

import chainrule.autograd.tensor_math as F
from chainrule.autograd.tensor import Tensor, constant
from chainrule.errors import ShapeError
from chainrule.explain.parser import ExplainError, Expression

Value = Tensor | float


@dataclass
class Evaluation:
    """The result, and each graph node the evaluation created (in creation order) with the
    sub-expression that created it."""

    result: Value
    created: list[Tensor] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # id(tensor) -> source text
    assigned: dict[int, str] = field(default_factory=dict)  # id(tensor) -> the statement's name
    ops: dict[int, str] = field(default_factory=dict)  # id(tensor) -> the function the user called


def evaluate(expr: Expression, env: dict[str, Tensor]) -> Evaluation:
    """Evaluates ``expr`` with the names bound to the Tensors in ``env``.

    Numbers stay Python floats until they meet a Tensor, so ``x**2`` is the same op as in a user's
    program (a constant exponent), and sub-expressions of numbers alone are folded.
    """
    out = Evaluation(None)
    env = dict(env)  # statements bind names in a copy: the caller's inputs stay as given
    with np.errstate(all="ignore"):  # log(-1) is nan, shown as such; not a warning
        for target, node in expr.statements:
            out.result = _eval(expr, node, env, out)
            if target is not None:
                env[target] = out.result
                # The node a statement computed takes its name; an alias (y = c) names nothing.
                if isinstance(out.result, Tensor) and out.result._node is not None:
                    out.assigned.setdefault(id(out.result), target)
    return out


def _eval(expr: Expression, node: ast.AST, env: dict[str, Tensor], out: Evaluation) -> Value:
    try:
        value = _number(_compute(expr, node, env, out))
    except ExplainError:
        raise
    except (ShapeError, ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ExplainError(
            f"cannot compute {expr.segment(node)!r}: {first}",
            expr.text,
            node.col_offset,
            node.end_col_offset,
        ) from None
    if isinstance(value, Tensor) and value._node is not None and id(value) not in out.texts:
        out.created.append(value)
        out.texts[id(value)] = expr.segment(node)
        if isinstance(node, ast.Call):  # shown as written: dot, not matmul; max, not maximum
            out.ops[id(value)] = node.func.id
    return value


def _compute(expr, node, env, out) -> Value:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExplainError(
                f"{node.id} has no value: give it with --at {node.id}=...",
                expr.text,
                node.col_offset,
                node.end_col_offset,
            )
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(expr, node.operand, env, out)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a = _eval(expr, node.left, env, out)
        b = _eval(expr, node.right, env, out)
        op = node.op
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            # Fold numbers with NumPy's float64 rules: (-8)**0.5 is nan, as for a Tensor, not a
            # Python complex number.
            a, b = np.float64(a), np.float64(b)
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        return a**b  # ast.Pow: the parser lets no other operator through
    if isinstance(node, ast.Call):
        args = [_eval(expr, a, env, out) for a in node.args]
        return _call(expr, node, node.func.id, args)
    raise ExplainError("not allowed", expr.text, node.col_offset, node.end_col_offset)


def _number(v):
    return float(v) if isinstance(v, np.floating) else v


def _tensor(v: Value) -> Tensor:
    return v if isinstance(v, Tensor) else constant(np.asarray(v, dtype=np.float64))


def _call(expr: Expression, node: ast.Call, name: str, args: list[Value]) -> Value:
    if name == "dot":
        u, v = (_tensor(a) for a in args)
        if u.ndim != 1 or v.ndim != 1 or u.shape != v.shape:
            raise ExplainError(
                f"dot needs two vectors of the same length; got shapes {u.shape} and {v.shape}",
                expr.text,
                node.col_offset,
                node.end_col_offset,
            )
        return F.matmul(u, v)
    if name == "max":
        if len(args) == 2:
            a, b = args
            if not isinstance(a, Tensor) and not isinstance(b, Tensor):
                return max(a, b)
            return F.maximum(a, b) if isinstance(a, Tensor) else F.maximum(_tensor(a), b)
        return F.max(_tensor(args[0]))
    fn = {
        "abs": F.abs,
        "exp": F.exp,
        "sin": F.sin,
        "cos": F.cos,
        "log": F.log,
        "sqrt": F.sqrt,
        "tanh": F.tanh,
        "sigmoid": F.sigmoid,
        "relu": F.relu,
        "sum": F.sum,
    }[name]
    return fn(_tensor(args[0]))
