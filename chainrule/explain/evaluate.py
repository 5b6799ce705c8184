"""Evaluates a checked expression by calling chainrule functions on Tensors (never ``eval``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import chainrule.autograd.tensor_math as F
import chainrule.functional as NF
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.errors import ShapeError
from chainrule.explain.functions import FUNCTIONS
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
    statements: dict[int, int] = field(default_factory=dict)  # id(tensor) -> its statement's index
    statement: str = ""  # the text of the statement being evaluated (named in shape errors)
    nudge: dict[int, float] = field(default_factory=dict)  # creation index -> h added to the node
    index: int = 0  # the statement being evaluated


def evaluate(expr: Expression, env: dict[str, Tensor]) -> Evaluation:
    """Evaluates ``expr`` with the names bound to the Tensors in ``env``.

    Numbers stay Python floats until they meet a Tensor, so ``x**2`` is the same op as in a user's
    program (a constant exponent), and sub-expressions of numbers alone are folded.
    """
    # Statements bind names in a copy: the caller's inputs stay as given.
    return evaluate_into(expr, env, Evaluation(None))


def evaluate_into(expr: Expression, env: dict[str, Tensor], out: Evaluation) -> Evaluation:
    """``evaluate`` filling ``out``; ``out.nudge`` (creation index -> h) adds h to those nodes'
    values as they are made, so that everything after them sees the nudge (``--nudge``)."""
    env = dict(env)
    with xp.errstate(all="ignore"):  # log(-1) is nan, shown as such; not a warning
        for k, (target, node) in enumerate(expr.statements):
            out.statement = expr.statement_text(k)
            out.index = k
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
        h = out.nudge.get(len(out.created))
        out.created.append(value)
        out.texts[id(value)] = expr.segment(node)
        out.statements[id(value)] = out.index
        if isinstance(node, ast.Call):  # shown as written: dot, not matmul; max, not maximum
            out.ops[id(value)] = node.func.id
        if h is not None:  # --nudge: what follows sees this node moved by h
            value = value + h
            out.texts[id(value)] = expr.segment(node)
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
            a, b = xp.float64(a), xp.float64(b)
        _check_shapes(expr, op, a, b, out)
        if isinstance(op, ast.MatMult):
            return F.matmul(_tensor(a), b)
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        return a**b  # ast.Pow: the parser lets no other operator through
    if isinstance(node, ast.Attribute):  # .T, the one attribute the parser lets through
        v = _eval(expr, node.value, env, out)
        return v.T if isinstance(v, Tensor) and v.ndim > 1 else v
    if isinstance(node, ast.Call):
        args = [_eval(expr, a, env, out) for a in node.args]
        return _call(expr, node, node.func.id, args, out)
    raise ExplainError("not allowed", expr.text, node.col_offset, node.end_col_offset)


def _number(v):
    return float(v) if isinstance(v, xp.floating) else v


def _tensor(v: Value) -> Tensor:
    return v if isinstance(v, Tensor) else constant(xp.asarray(v, dtype=xp.float64))


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _shape_error(out: Evaluation, op: str, a, b, why: str) -> ExplainError:
    """One line: the op, both shapes and the statement."""
    sa, sb = (tuple(xp.shape(v._data if isinstance(v, Tensor) else v)) for v in (a, b))
    return ExplainError(f"{op}: shapes {sa} and {sb} {why}, in the statement {out.statement!r}")


def _check_shapes(expr: Expression, op: ast.operator, a: Value, b: Value, out: Evaluation) -> None:
    """Refuses operands whose shapes do not fit the operator before chainrule is called."""
    sa, sb = (
        xp.shape(a._data if isinstance(a, Tensor) else a),
        xp.shape(b._data if isinstance(b, Tensor) else b),
    )
    if isinstance(op, ast.MatMult):
        if len(sa) == 0 or len(sb) == 0:
            raise _shape_error(out, "@", a, b, "cannot be multiplied: @ needs vectors or matrices")
        inner_a, inner_b = sa[-1], sb[0] if len(sb) == 1 else sb[-2]
        if inner_a != inner_b:
            raise _shape_error(
                out, "@", a, b, f"do not match: {inner_a} columns against {inner_b} rows"
            )
        return
    try:
        xp.broadcast_shapes(sa, sb)
    except ValueError:
        raise _shape_error(out, _SYMBOLS[type(op)], a, b, "do not broadcast together") from None


def _call(expr: Expression, node: ast.Call, name: str, args: list[Value], out: Evaluation) -> Value:
    if name in _TENSOR_FUNCTIONS:
        return _TENSOR_FUNCTIONS[name](out, args)
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
    if name in ("max", "min"):
        return _extremum(name, args)
    return FUNCTIONS[name].call(_tensor(args[0]))


def _mse(out: Evaluation, args: list[Value]) -> Tensor:
    y, t = (_tensor(a) for a in args)
    if y.shape != t.shape:
        raise _shape_error(out, "mse", y, t, "differ (mse compares two arrays of one shape)")
    return NF.mse_loss(y, t)


def _cross_entropy(out: Evaluation, args: list[Value]) -> Tensor:
    z, k = _tensor(args[0]), args[1]
    kv = xp.asarray(k._data if isinstance(k, Tensor) else k)
    if z.ndim != 1 or kv.ndim != 0:
        raise _shape_error(
            out,
            "cross_entropy",
            z,
            k,
            "do not fit: cross_entropy(z, k) takes a vector of scores z and one class index k",
        )
    if kv != xp.floor(kv) or not 0 <= kv < z.shape[0]:
        raise ExplainError(
            f"cross_entropy: the class index k must be a whole number from 0 to "
            f"{z.shape[0] - 1}, got {float(kv):g}, in the statement {out.statement!r}"
        )
    return NF.cross_entropy(z, xp.asarray(kv, dtype=xp.int64))


_TENSOR_FUNCTIONS = {"mse": _mse, "cross_entropy": _cross_entropy}  # their arguments checked


def _extremum(name: str, args: list):
    """``max(v)``/``min(v)`` of one tensor, or the elementwise ``max(a, b)``/``min(a, b)`` (plain
    Python's for two numbers)."""
    whole, pair, plain = {
        "max": (F.max, F.maximum, max),
        "min": (F.min, F.minimum, min),
    }[name]
    if len(args) != 2:
        return whole(_tensor(args[0]))
    a, b = args
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return plain(a, b)
    return pair(a, b) if isinstance(a, Tensor) else pair(_tensor(a), b)
