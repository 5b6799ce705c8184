"""Writing the traced values as ONNX nodes: the graph's ops, and the values made beside it.

``Writer.write`` takes tensors in topological order. An op's result goes through its translation
(``symbolic.TRANSLATIONS``); a leaf is a parameter or a constant (an initializer), unless the
``ExportTracer`` saw it being made from the inputs without a gradient -- a comparison, a cast of
a mask, arithmetic on one -- and then it is written as the nodes that make it
(``BESIDE``: Greater, Less, Equal, Not, And, Or, Cast, ...), so that the exported model follows
new inputs instead of keeping the example's mask.
"""

from __future__ import annotations

from typing import Any

from chainrule import ops
from chainrule.autograd.engine import toposort
from chainrule.autograd.tensor import Tensor, cast_array
from chainrule.backend import xp
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.symbolic import TRANSLATIONS, _embedding
from chainrule.onnx.trace import ExportTracer, Made

# NumPy functions that ``recomputed`` runs for comparisons and logic, as ONNX ops on operands
# of one dtype; ``None`` means "Equal, then Not".
_COMPARE = {
    xp.greater: "Greater",
    xp.less: "Less",
    xp.equal: "Equal",
    xp.greater_equal: "GreaterOrEqual",
    xp.less_equal: "LessOrEqual",
    xp.not_equal: None,
}
_LOGIC = {
    xp.logical_and: "And",
    xp.bitwise_and: "And",
    xp.logical_or: "Or",
    xp.bitwise_or: "Or",
    xp.logical_xor: "Xor",
    xp.bitwise_xor: "Xor",
}
_TRUTH = (xp.logical_and, xp.logical_or, xp.logical_xor)
_ARITHMETIC = {ops.Add, ops.Sub, ops.Mul, ops.Maximum, ops.Minimum, ops.Sum, ops.Max, ops.Min}
_UNARY = {xp.logical_not: "Not", xp.invert: "Not", xp.isnan: "IsNaN", xp.sign: "Sign"}


class Writer:
    """Names every traced tensor and array it writes (``names``: ``id(tensor)`` -> ONNX value
    name, ``arrays``: ``id(array)`` -> name, for operands that reached a NumPy function as
    arrays)."""

    def __init__(
        self,
        g: GraphBuilder,
        tracer: ExportTracer,
        names: dict[int, str],
        param_names: dict[int, str],
        index_names: dict[int, str],
        wanted: dict[int, str],
    ) -> None:
        self.g, self.tracer, self.names = g, tracer, names
        self.param_names, self.index_names, self.wanted = param_names, index_names, wanted
        self.arrays: dict[int, str] = {}
        g.resolve = self.resolve

    def write(self, order: list[Tensor]) -> None:
        """Writes each tensor of ``order`` not yet named: an op's result, a leaf, or a value
        made beside the graph."""
        for t in order:
            if id(t) in self.names:
                continue
            if t._node is not None:
                name = self._write_op(t)
            elif id(t._data) in self.tracer.made:
                name = self._array(t._data, self.wanted.get(id(t)))
            else:
                name = self._write_initializer(t)
            self.names[id(t)] = name
            self.arrays.setdefault(id(t._data), name)

    def resolve(self, arr: xp.ndarray) -> str | None:
        """The ONNX name of an array that the graph computes (a mask), or None for a constant."""
        if id(arr) in self.arrays or id(arr) in self.tracer.made or id(arr) in self.tracer.tensors:
            return self._name_of(arr)
        return None

    # ----- one value -----
    def _name_of(self, v: Any, dtype: Any = None) -> str:
        """The ONNX name of an operand: a Tensor, an array (traced or constant) or a number."""
        if isinstance(v, Tensor):
            if id(v) not in self.names:
                self.write(toposort([v], constants=True))
            return self.names[id(v)]
        if isinstance(v, xp.ndarray | xp.generic):
            if id(v) in self.arrays or id(v) in self.tracer.made:
                return self._array(v)
            t = self.tracer.tensors.get(id(v))
            if t is not None:  # a graph tensor's array, handed to NumPy bare (``x > y``)
                return self._name_of(t)
        scalar = not isinstance(v, xp.ndarray | xp.generic)
        return self.g.const(xp.asarray(v, dtype=dtype if scalar else None), hint="const")

    def _array(self, arr: xp.ndarray, out: str | None = None) -> str:
        name = self.arrays.get(id(arr))
        if name is not None:
            return name
        made = self.tracer.made[id(arr)]
        name = self._write_made(made, out or self.g.unique("beside"))
        self.arrays[id(arr)] = name
        return name

    def _write_made(self, made: Made, out: str) -> str:
        if made.op is not None:
            return self._write_beside_op(made, out)
        name = self._write_function(made, out)
        if name is None:  # a function with no ONNX form here: the example's value, as before
            self.g.frozen.append(getattr(made.fn, "__name__", "a computed value"))
            self.g.initializer(xp.asarray(made.out), out)
        return out

    def _write_beside_op(self, made: Made, out: str) -> str:
        """An op applied to masks. ONNX arithmetic takes no booleans, so boolean operands are
        cast to the result's type (a mask summed), or to int64 and back when the result is
        boolean too (a mask times a mask)."""
        g = self.g
        y = xp.asarray(made.out)
        ins = [self._name_of(a) for a in made.args]
        xs = [xp.asarray(a._data) for a in made.args]
        arith = type(made.op) in _ARITHMETIC and any(x.dtype == bool for x in xs)
        work = xp.dtype(xp.int64) if y.dtype == bool else y.dtype
        if arith:
            ins = [g.cast(n, x.dtype, work) if x.dtype == bool else n for n, x in zip(ins, xs)]
            xs = [x.astype(work) if x.dtype == bool else x for x in xs]
        if arith and y.dtype == bool:
            mid = g.unique(made.op.name)
            TRANSLATIONS[type(made.op)](g, made.op, ins, xs, y.astype(work), mid)
            g.node("Cast", [mid], out, to=g.elem_type(xp.bool_))
            return out
        TRANSLATIONS[type(made.op)](g, made.op, ins, xs, y, out)
        return out

    def _write_function(self, made: Made, out: str) -> str | None:
        """The nodes computing ``made.fn(*made.args)``, or None when it has no translation."""
        fn, args, g = made.fn, made.args, self.g
        if made.index is not None:
            return None
        if fn in (xp.any, xp.all):
            return self._any_all(made, out)
        if made.kwargs:
            return None
        raw = [a._data if isinstance(a, Tensor) else a for a in args]
        if fn in _COMPARE or fn in _LOGIC:
            if len(args) != 2:
                return None
            dt = xp.result_type(*raw)
            a, b = (g.cast(self._name_of(v, dt), _dtype(r, dt), dt) for v, r in zip(args, raw))
            if fn is xp.not_equal:
                return g.node("Not", [g.node("Equal", [a, b])], out)
            if fn in _TRUTH:  # logical_*: nonzero is true
                a, b = (g.cast(n, dt, xp.bool_) for n in (a, b))
            elif fn in _LOGIC and dt != xp.bool_:
                return None  # bitwise logic on integers: no ONNX op
            return g.node(_COMPARE.get(fn) or _LOGIC[fn], [a, b], out)
        if fn in _UNARY and len(args) == 1:
            x, x_dtype = self._name_of(args[0]), _dtype(raw[0], None)
            if fn is xp.logical_not:
                x = g.cast(x, x_dtype, xp.bool_)
            elif _UNARY[fn] == "Not" and x_dtype != xp.bool_:
                return None  # ~ on integers is bitwise
            return g.node(_UNARY[fn], [x], out)
        if fn is cast_array and len(args) == 2:
            return g.node("Cast", [self._name_of(args[0])], out, to=g.elem_type(args[1]))
        return None

    def _any_all(self, made: Made, out: str) -> str | None:
        """``any``/``all`` over ``axis``: the max/min of the values as 0/1 integers."""
        (x,) = made.args
        g = self.g
        axis = made.kwargs.get("axis")
        arr = xp.asarray(x._data if isinstance(x, Tensor) else x)
        axes = range(arr.ndim) if axis is None else xp.atleast_1d(axis).tolist()
        nonzero = g.node("Not", [g.node("Equal", [self._name_of(x), g.const(0, arr.dtype)])])
        as_int = g.node("Cast", [nonzero], to=g.elem_type(xp.int64))
        op_type = "ReduceMax" if made.fn is xp.any else "ReduceMin"
        reduced = g.reduce(op_type, as_int, axes, bool(made.kwargs.get("keepdims")), None)
        return g.node("Cast", [reduced], out, to=g.elem_type(xp.bool_))

    # ----- the graph's own tensors -----
    def _write_initializer(self, t: Tensor) -> str:
        """Stores the leaf ``t`` as an initializer, under its state-dict name if it is a
        parameter (a fresh ``const`` name otherwise); returns that name."""
        name = self.param_names.get(id(t))
        if name is None:
            name = self.g.unique("const")
        else:
            self.g.reserve(name)
        self.g.initializer(t._data, name)
        return name

    def _write_op(self, t: Tensor) -> str:
        """Writes the op that computed ``t`` through its translation, its last node writing
        the graph output's name when ``t`` is one (a fresh name after the op otherwise)."""
        node = t._node
        if self._index_from_data(getattr(node, "index", None)):
            # An index computed from the inputs (an argmax to gather by) is written as the
            # example's: said in the export's warning rather than left silent.
            self.g.frozen.append(f"{node.name} (its index)")
        out = self.wanted.get(id(t)) or self.g.unique(node.name)
        ins = [self._name_of(i) for i in node.inputs]
        xs = [i._data for i in node.inputs]
        fn = TRANSLATIONS[type(node)]
        if fn is _embedding:
            fn(self.g, node, ins, xs, t._data, out, index_names=self.index_names)
        else:
            fn(self.g, node, ins, xs, t._data, out)
        return out

    def _index_from_data(self, index: Any) -> bool:
        parts = index if isinstance(index, tuple) else (index,)
        return any(isinstance(p, xp.ndarray) and self.tracer.dynamic(p) for p in parts)


def _dtype(v: Any, default: Any) -> xp.dtype:
    return v.dtype if isinstance(v, xp.ndarray | xp.generic) else xp.dtype(default)
