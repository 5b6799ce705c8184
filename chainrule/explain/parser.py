"""The expression language of ``chainrule explain``: parsed by ``ast``, checked against a whitelist.

The user's text is never run: ``ast.parse`` only builds a syntax tree, every node of which is checked
here before anything is evaluated, and evaluation walks that tree calling chainrule functions. What
is allowed:

* numbers, and names given values with ``--at`` (scalars or small vectors);
* statements ``c = a+b; d = b+1; e = c*d``, separated by ``;``: each names its value, later
  statements use the names, a name may be assigned again (``u = u*u; u = u*u`` builds one shared
  node per statement), and the last statement is the output. A name used before it is assigned is
  an input and takes its value from ``--at``;
* ``+ - * / **`` and unary ``-``/``+``;
* calls to ``exp log sqrt tanh sigmoid relu sum max dot`` and ``sin cos abs`` (``max(v)`` is the largest element,
  ``max(a, b)`` the elementwise maximum; ``dot(u, v)`` the inner product of two vectors).

Anything else is refused with an ``ExplainError`` that names the column and draws a caret under the
offending token.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from chainrule.explain.functions import FIRST, MORE
from chainrule.explain.functions import FUNCTIONS as TABLE

MAX_LENGTH = 500  # characters of expression text
MAX_DEPTH = 40  # nesting levels of the syntax tree
MAX_ELEMENTS = 64  # elements of one vector given with --at

# name -> (fewest, most) arguments, from the language's one table of functions
FUNCTIONS: dict[str, tuple[int, int]] = {n: (f.fewest, f.most) for n, f in TABLE.items()}
_FUNCTION_LIST = ", ".join(FIRST)
MORE_FUNCTIONS = {n: (f.fewest, f.most) for n, f in MORE.items()}
_MORE_NOTE = f"also allowed: {', '.join(MORE_FUNCTIONS)}"

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.MatMult)
_REFUSED_BINOPS = {
    ast.BitXor: "'^' is bitwise xor in Python, not a power: write a**b",
    ast.FloorDiv: "'//' (floor division) is not supported: write a / b",
    ast.Mod: "'%' (remainder) is not supported",
}
# What to call each refused node type in a message.
_REFUSED_NODES = {
    ast.Subscript: "indexing (subscripts) is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.List: "vector literals are not allowed in the expression: give vectors with --at, e.g. --at w=[2,-3]",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}


class ExplainError(ValueError):
    """A refused expression or binding, with the column of the offending token.

    ``str(err)`` is one line saying what is wrong and where; ``err.render()`` adds the expression
    with a caret under the token.
    """

    def __init__(self, message: str, text: str | None = None, start: int | None = None, end=None):
        self.message = message
        self.note: str | None = None  # a line shown after the caret by render()
        self.kind: str | None = None  # what went wrong, where a caller restates it
        self.text = text
        self.start = start  # 0-based character offset into text
        self.end = end if end is not None else (start + 1 if start is not None else None)
        where = f" (column {start + 1})" if start is not None else ""
        super().__init__(f"{message}{where}")

    def render(self) -> str:
        """The message, then the expression with ``^`` under the offending characters."""
        if self.text is None or self.start is None:
            return str(self)
        text, start, end = self.text, self.start, max(self.end, self.start + 1)
        # Long input: show a window around the token so that the caret stays on screen.
        end = min(end, start + 40)
        lo = max(0, start - 40)
        hi = min(len(text), end + 30)
        prefix = "…" if lo > 0 else ""
        suffix = "…" if hi < len(text) else ""
        # One character per character, so the caret stays aligned; control characters as "?".
        piece = "".join("?" if ord(c) < 32 else c for c in text[lo:hi])
        shown = prefix + piece + suffix
        pad = len(prefix) + start - lo
        width = max(1, end - start)
        note = f"\n  {self.note}" if self.note else ""
        return f"{self}\n  {shown}\n  {' ' * pad}{'^' * width}{note}"


@dataclass
class Expression:
    """A checked expression: its text, its syntax tree and the input names it uses, in order.

    ``statements`` lists ``(target, value)`` pairs in order: ``target`` is the name a statement
    assigns (None for a bare expression, which is one statement), ``value`` its expression's tree.
    ``assigned`` holds the names that statements assign (never inputs).
    """

    text: str
    tree: ast.AST
    names: list[str] = field(default_factory=list)
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # first use of each name
    statements: list[tuple[str | None, ast.expr]] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)

    def statement_text(self, k: int) -> str:
        """Statement ``k`` as written: ``z = W @ x`` (or the bare expression)."""
        target, value = self.statements[k]
        body = self.segment(value)
        return body if target is None else f"{target} = {body}"

    def segment(self, node: ast.AST) -> str:
        """The source text of a sub-expression (columns are characters: see ``_char_columns``)."""
        return self.text[node.col_offset : node.end_col_offset]


def parse(text: str) -> Expression:
    """Parses and checks ``text``; raises ``ExplainError`` at the first token that is not allowed."""
    if not isinstance(text, str):
        raise TypeError(f"explain: the expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExplainError(
            f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
            text,
            MAX_LENGTH,
        )
    if not text.strip():
        raise ExplainError("the expression is empty")
    text = normalize(text)
    for i, ch in enumerate(text):
        # ASCII, and letters of names in any script (误差 = (输入*权重 - 目标)**2).
        if (ord(ch) > 126 and not ("a" + ch).isidentifier()) or (ord(ch) < 32 and ch != " "):
            raise ExplainError(f"character {ch!r} is not allowed", text, i)
    if ";" in text or _ASSIGNMENT.search(text):
        tree = _syntax(text, "exec")
        expr = Expression(text, tree)
        _check_statements(expr)
    else:
        tree = _syntax(text, "eval")
        expr = Expression(text, tree, statements=[(None, tree.body)])
        _check(expr, tree.body)
    expr.names.sort(key=lambda n: expr.positions[n][0])
    return expr


# "=" that is not part of "==", "<=", ">=", "!=": the text holds statements.
_ASSIGNMENT = re.compile(r"(?<![=<>!])=(?!=)")
# A number, a name or a closing bracket followed by "(" or a name: multiplication left implicit.
_IMPLICIT = re.compile(r"(\d\s*[A-Za-z(]|\)\s*[A-Za-z0-9(])")


# What a reader copies from the output or types with a Chinese keyboard, as the language spells
# it: full-width punctuation, the report's own symbols (× − σ ᵀ ²), full-width digits and spaces.
_SPELLING = {
    "；": "; ", "，": ", ", "（": "(", "）": ")", "＝": "=", "＋": "+", "－": "-", "＊": "*",
    "／": "/", "＠": "@", "［": "[", "］": "]", "：": ":", "．": ".", "　": " ", "×": "*",
    "·": "*", "⋅": "*", "÷": "/", "−": "-", "–": "-", "σ": "sigmoid", "ᵀ": ".T", "²": "**2",
    "³": "**3", "⊙": "*", "\u00a0": " ",
}  # fmt: skip
_SPELLING.update({chr(0xFF10 + d): str(d) for d in range(10)})  # full-width digits
_SPELLING_RE = re.compile("|".join(map(re.escape, _SPELLING)))


def normalize(text: str) -> str:
    """``text`` with full-width punctuation and the output's symbols in their ASCII spelling:
    ``误差 = (输入×权重 − 目标)²；`` -> ``误差 = (输入*权重 - 目标)**2;``."""
    return _SPELLING_RE.sub(lambda m: _SPELLING[m.group(0)], text)


def _char_columns(text: str, tree: ast.AST) -> None:
    """Turns the tree's columns from UTF-8 byte offsets (what ``ast`` gives) into character
    offsets, so that carets and slices stay right after a name like 误差."""
    if text.isascii():
        return
    at = [0] * (len(text.encode("utf-8")) + 1)
    pos = 0
    for i, ch in enumerate(text):
        for _ in range(len(ch.encode("utf-8"))):
            at[pos] = i
            pos += 1
    at[pos] = len(text)
    for node in ast.walk(tree):
        for attr in ("col_offset", "end_col_offset"):
            v = getattr(node, attr, None)
            if v is not None:
                setattr(node, attr, at[v])


def _syntax(text: str, mode: str) -> ast.AST:
    """``ast.parse`` in ``mode``, its SyntaxError turned into an ExplainError at its column."""
    try:
        tree = ast.parse(text, mode=mode)
        _char_columns(text, tree)
        return tree
    except SyntaxError as exc:
        start = (exc.offset or 1) - 1
        end = (exc.end_offset or exc.offset or 1) - 1 if exc.end_lineno in (None, 1) else None
        msg = f"syntax error: {exc.msg}"
        implicit = _IMPLICIT.search(text)
        if implicit:
            fixed = text[: implicit.start() + 1] + "*" + text[implicit.end() - 1 :]
            msg += f"; multiplication needs '*': write {fixed.strip()}"
            start, end = implicit.start(), implicit.end()
        raise ExplainError(msg, text, min(start, len(text)), end) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExplainError("the expression is nested too deeply to parse", text, 0) from None


def _check_statements(expr: Expression) -> None:
    """Checks ``name = expression`` statements in order; a bare expression may only come last."""
    body = expr.tree.body
    if not body:
        raise ExplainError("the expression is empty")
    for k, st in enumerate(body):
        last = k == len(body) - 1
        if isinstance(st, ast.Expr) and last:
            _check(expr, st.value)
            expr.statements.append((None, st.value))
            continue
        if not isinstance(st, ast.Assign):
            what = "an expression that is not the last" if isinstance(st, ast.Expr) else "this"
            raise ExplainError(
                f"{what} statement is not allowed: write NAME = EXPRESSION; ...; the last one is "
                "the output",
                expr.text,
                st.col_offset,
                st.end_col_offset,
            )
        if len(st.targets) != 1 or not isinstance(st.targets[0], ast.Name):
            t = st.targets[-1] if len(st.targets) == 1 else st.targets[1]
            raise _error(expr, t, "assign to one name: write NAME = EXPRESSION")
        target = st.targets[0]
        if target.id in FUNCTIONS:
            raise _error(expr, target, f"{target.id} is a function: it cannot be assigned")
        if target.id.startswith("_"):
            raise _error(
                expr, target, f"name {target.id!r} is not allowed (names may not start with _)"
            )
        _check(expr, st.value)
        expr.statements.append((target.id, st.value))
        expr.assigned.add(target.id)


def _error(expr: Expression, node: ast.AST, message: str) -> ExplainError:
    return ExplainError(message, expr.text, node.col_offset, node.end_col_offset)


def _check(expr: Expression, root: ast.expr) -> None:
    """Checks every node of ``root`` (iteratively); refuses the leftmost token that is not allowed,
    so that the caret lands where a reader meets the first problem."""
    found: list[ExplainError] = []
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            try:
                _check_node(expr, node, depth)
            except ExplainError as e:
                found.append(e)
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            children.remove(node.func)  # the function's name, checked by _check_call
        stack.extend((c, depth + 1) for c in reversed(children))
    if found:
        raise min(found, key=lambda e: e.start)


def _check_node(expr: Expression, node: ast.expr, depth: int) -> None:
    """Raises ``ExplainError`` where this one node is not allowed; records the names used."""
    if depth > MAX_DEPTH:
        raise _error(expr, node, f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINOPS):
            msg = _REFUSED_BINOPS.get(type(node.op), "this operator is not allowed")
            raise _operator_error(expr, node, msg)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _error(expr, node, "only unary minus and plus are allowed")
    elif isinstance(node, ast.Call):
        _check_call(expr, node)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _error(expr, node, f"{node.id} is a function: call it, e.g. {node.id}(x)")
        if node.id.startswith("_"):
            raise _error(
                expr, node, f"name {node.id!r} is not allowed (names may not start with _)"
            )
        # A name no earlier statement assigned is an input.
        if node.id not in expr.positions and node.id not in expr.assigned:
            expr.names.append(node.id)
            expr.positions[node.id] = (node.col_offset, node.end_col_offset)
    elif isinstance(node, ast.Attribute):
        if node.attr != "T":  # .T, the transpose, is the one attribute of the texts
            raise _attribute_error(expr, node)
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = "strings" if isinstance(v, (str, bytes)) else f"{type(v).__name__} constants"
            raise _error(expr, node, f"{what} are not allowed; only numbers")
        try:
            float(v)
        except OverflowError:
            raise _error(expr, node, "this number is too large") from None
    else:
        msg = _REFUSED_NODES.get(type(node), f"{type(node).__name__} is not allowed")
        raise _error(expr, node, msg)


def _check_call(expr: Expression, node: ast.Call) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        if isinstance(func, ast.Attribute):
            raise _attribute_error(expr, func)
        hint = ""
        if isinstance(func, (ast.Constant, ast.BinOp, ast.UnaryOp)):  # 3(a+b), (a+b)(c+d)
            hint = f"; multiplication needs '*': write {_times(expr, func, node)}"
        err = _error(expr, func, f"only the functions {_FUNCTION_LIST} can be called{hint}")
        err.note = _MORE_NOTE
        raise err
    if func.id not in FUNCTIONS:
        hint = ""
        # a(b+c): a short name, or one used as a value, is a value to multiply, not a function.
        if len(func.id) <= 2 or func.id in expr.positions or func.id in expr.assigned:
            hint = f"; to multiply, write {_times(expr, func, node)}"
        err = _error(
            expr,
            func,
            f"call to {func.id!r} is not allowed; the functions are {_FUNCTION_LIST}{hint}",
        )
        err.note = _MORE_NOTE
        raise err
    if node.keywords:
        raise _error(expr, node.keywords[0].value, f"{func.id}: keyword arguments are not allowed")
    lo, hi = FUNCTIONS[func.id]
    n = len(node.args)
    if not lo <= n <= hi:
        want = str(lo) if lo == hi else f"{lo} or {hi}"
        raise _error(expr, node, f"{func.id} takes {want} argument{'s' if hi > 1 else ''}, got {n}")


def _times(expr: Expression, func: ast.expr, call: ast.Call) -> str:
    """``3(a+b)`` written with its multiplication: ``3*(a+b)``."""
    return f"{expr.segment(func)}*{expr.text[func.end_col_offset : call.end_col_offset]}"


def _attribute_error(expr: Expression, node: ast.Attribute) -> ExplainError:
    # Point at ".name", the part that makes it an attribute access (after any closing brackets).
    start = expr.text.find(".", node.value.end_col_offset, node.end_col_offset)
    start = node.value.end_col_offset if start < 0 else start
    return ExplainError(
        "attribute access is not allowed (only .T, the transpose)",
        expr.text,
        start,
        node.end_col_offset,
    )


def _operator_error(expr: Expression, node: ast.BinOp, message: str) -> ExplainError:
    # Point at the operator itself: the first non-space text between the two operands.
    text = expr.text
    lo, hi = node.left.end_col_offset, node.right.col_offset
    between = text[lo:hi]
    stripped = between.strip().strip("()").strip()
    start = lo + between.find(stripped) if stripped else lo
    return ExplainError(message, text, start, start + max(len(stripped), 1))
