"""Each chainrule op written as ONNX nodes.

A translation is ``fn(g, op, ins, xs, y, out)``: ``g`` the ``GraphBuilder``, ``op`` the recorded
op (its attributes: axes, shapes, geometry), ``ins`` the ONNX names of its inputs, ``xs`` their
NumPy arrays as traced (for shapes and dtypes), ``y`` the traced result and ``out`` the name its
last node must write. ``TRANSLATIONS`` maps op classes to them; an op class absent from it has no
ONNX form yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chainrule import ops
from chainrule.backend import xp
from chainrule.onnx.graph import INT64_MAX, INT64_MIN, GraphBuilder
from chainrule.onnx.symbolic_activations import ACTIVATIONS
from chainrule.ops.attention import AdditiveScore, WeightedSum
from chainrule.ops.conv import Conv2d
from chainrule.ops.embedding import Embedding
from chainrule.ops.pad import PadConstant, PadMode
from chainrule.ops.pool import AvgPool2d, MaxPool2d
from chainrule.ops.rnn import LSTMCell
from chainrule.ops.special import Erf


class UnsupportedOperatorError(RuntimeError):
    """A recorded op that ``cr.onnx.export`` cannot write as ONNX (as
    ``torch.onnx.errors.UnsupportedOperatorError``)."""


def op_label(op) -> str:
    """``'xyz' (ops.Xyz)``: the op's name and class, as error messages give them."""
    cls = type(op)
    where = "ops" if cls.__module__.startswith("chainrule.ops") else cls.__module__
    return f"{op.name!r} ({where}.{cls.__name__})"


def unsupported(op, detail: str = "") -> UnsupportedOperatorError:
    """The error for an op (or one form of an op) with no ONNX translation."""
    extra = f" ({detail})" if detail else ""
    return UnsupportedOperatorError(f"ONNX export: op {op_label(op)} has no ONNX form yet{extra}")


# ----- elementwise -----
def _binary(op_type: str):
    def write(g: GraphBuilder, op, ins, xs, y, out):
        # NumPy promotes mixed dtypes (an int tensor times a float one); ONNX wants them equal.
        a, b = (g.cast(n, x.dtype, y.dtype) for n, x in zip(ins, xs, strict=True))
        g.node(op_type, [a, b], out)

    return write


def _unary(op_type: str):
    def write(g: GraphBuilder, op, ins, xs, y, out):
        g.node(op_type, [g.cast(ins[0], xs[0].dtype, y.dtype)], out)

    return write


def _flip(g: GraphBuilder, op, ins, xs, y, out):
    axes = list(op.axes)
    n = len(axes)
    starts, ends = g.ints([-1] * n, "starts"), g.ints([INT64_MIN] * n, "ends")
    g.node("Slice", [ins[0], starts, ends, g.ints(axes, "axes"), g.ints([-1] * n, "steps")], out)


def _roll(g: GraphBuilder, op, ins, xs, y, out):
    # Each axis: the last `shift` entries, then the others (two Slices and a Concat).
    x = ins[0]
    pairs = [(s % y.shape[a], a) for s, a in zip(op.shifts, op.axes) if y.shape[a]]
    pairs = [(s, a) for s, a in pairs if s]
    for i, (s, a) in enumerate(pairs):
        size, ax = y.shape[a], g.ints([a], "axes")
        tail = g.node("Slice", [x, g.ints([size - s], "starts"), g.ints([size], "ends"), ax])
        head = g.node("Slice", [x, g.ints([0], "starts"), g.ints([size - s], "ends"), ax])
        x = g.node("Concat", [tail, head], out if i == len(pairs) - 1 else None, axis=a)
    if not pairs:
        g.node("Identity", [x], out)


def _triangle(g: GraphBuilder, op, ins, xs, y, out):
    keep = g.const(op.keep(y.shape), hint="triangle")
    g.node("Where", [keep, ins[0], g.const(0, y.dtype, "zero")], out)


def _pow(g: GraphBuilder, op, ins, xs, y, out):
    # ONNX Pow lets the exponent have its own type; only the base must match the result.
    g.node("Pow", [g.cast(ins[0], xs[0].dtype, y.dtype), ins[1]], out)


def _pow_scalar(g: GraphBuilder, op, ins, xs, y, out):
    x = g.cast(ins[0], xs[0].dtype, y.dtype)
    if op.p == 2:  # exact, and what ORT would special-case anyway
        g.node("Mul", [x, x], out)
        return
    g.node("Pow", [x, g.const(op.p, y.dtype, "exponent")], out)


_STEPWISE = {"floor": "Floor", "ceil": "Ceil", "sign": "Sign"}


def _stepwise(g: GraphBuilder, op, ins, xs, y, out):
    op_type = _STEPWISE.get(op.name)
    fn = op.fn
    if getattr(fn, "func", None) is xp.round and not getattr(fn, "keywords", {}).get("decimals"):
        op_type = "Round"  # halves to even, as NumPy and PyTorch
    if op_type is None:  # trunc, round(decimals=...): no single ONNX op
        raise unsupported(op, f"the stepwise function {op.name!r}")
    g.node(op_type, ins, out)


def _clip(g: GraphBuilder, op, ins, xs, y, out):
    x = g.cast(ins[0], xs[0].dtype, y.dtype)
    lo = None if op.lo is None else xp.asarray(op.lo)
    hi = None if op.hi is None else xp.asarray(op.hi)
    if (lo is None or lo.ndim == 0) and (hi is None or hi.ndim == 0):
        bounds = ["" if v is None else g.const(v, y.dtype, "clip_bound") for v in (lo, hi)]
        while bounds and bounds[-1] == "":
            bounds.pop()
        g.node("Clip", [x, *bounds], out)
        return
    # Tensor bounds broadcast elementwise: ONNX Clip takes scalars only.
    if lo is not None:
        x = g.node("Max", [x, g.const(lo, y.dtype, "clip_lo")], None if hi is not None else out)
    if hi is not None:
        g.node("Min", [x, g.const(hi, y.dtype, "clip_hi")], out)


def _where(g: GraphBuilder, op, ins, xs, y, out):
    # A condition computed from the inputs (a comparison, a mask) is written as the nodes that
    # compute it; one the exporter did not see being made is baked in, and said so.
    cond = g.resolve(op.cond)
    if cond is None:
        g.frozen.append("where (its condition)")
        cond = g.const(xp.asarray(op.cond, dtype=bool), hint="where_cond")
    a, b = (g.cast(n, x.dtype, y.dtype) for n, x in zip(ins, xs, strict=True))
    g.node("Where", [cond, a, b], out)


def _cast(g: GraphBuilder, op, ins, xs, y, out):
    g.node("Cast", ins, out, to=g.elem_type(y.dtype))


# ----- matrix products -----
def _linear(g: GraphBuilder, op, ins, xs, y, out):
    x, w = ins[0], ins[1]
    if xs[0].ndim == 2:
        g.node("Gemm", [x, w, *ins[2:]], out, transB=1)
        return
    wt = g.node("Transpose", [w], perm=[1, 0])
    if len(ins) == 2:
        g.node("MatMul", [x, wt], out)
        return
    g.node("Add", [g.node("MatMul", [x, wt]), ins[2]], out)


def _einsum(g: GraphBuilder, op, ins, xs, y, out):
    g.node("Einsum", list(ins), out, equation=",".join(op.subs) + "->" + op.out)


# ----- reductions -----
def _reduce(op_type: str):
    def write(g: GraphBuilder, op, ins, xs, y, out):
        if not op.axes:  # a 0-d input: nothing to reduce
            g.node("Identity", ins, out)
            return
        g.reduce(op_type, ins[0], op.axes, op.keepdims, out)

    return write


def _cumsum(g: GraphBuilder, op, ins, xs, y, out):
    axis = g.const(xp.int64(op.axis % xs[0].ndim), hint="axis")
    g.node("CumSum", [ins[0], axis], out, reverse=int(bool(op.reverse)))


def _softmax(op_type: str):
    def write(g: GraphBuilder, op, ins, xs, y, out):
        g.node(op_type, ins, out, axis=int(op.axis))

    return write


# ----- shapes -----
def _reshape(g: GraphBuilder, op, ins, xs, y, out):
    shape = list(y.shape)
    if 0 in shape:  # an empty result: 0 must mean 0, not "copy the input's dimension"
        g.node("Reshape", [ins[0], g.ints(shape, "shape")], out, allowzero=1)
        return
    # The leading dimensions kept from the input become 0 ("copy it"), so that a reshape such as
    # flatten's (N, C, H, W) -> (N, CHW) follows a dynamic batch instead of fixing N.
    for i, (a, b) in enumerate(zip(xs[0].shape, shape, strict=False)):
        if a != b:
            break
        shape[i] = 0
    g.node("Reshape", [ins[0], g.ints(shape, "shape")], out)


def _transpose(g: GraphBuilder, op, ins, xs, y, out):
    g.node("Transpose", ins, out, perm=[int(a) % xs[0].ndim for a in op.axes])


def _broadcast_to(g: GraphBuilder, op, ins, xs, y, out):
    # Expand broadcasts both ways, so a 1 keeps the input's (possibly dynamic) dimension.
    shape = list(op.shape)
    offset = len(shape) - xs[0].ndim
    for i, n in enumerate(xs[0].shape):
        if shape[offset + i] == n:
            shape[offset + i] = 1
    g.node("Expand", [ins[0], g.ints(shape, "shape")], out)


def _cat(g: GraphBuilder, op, ins, xs, y, out):
    names = [g.cast(n, x.dtype, y.dtype) for n, x in zip(ins, xs, strict=True)]
    g.node("Concat", names, out, axis=int(op.axis) % y.ndim)


# ----- indexing -----
@dataclass
class _IndexPlan:
    """A NumPy index as ONNX steps, in this order: a Slice of ``axes`` (``starts``, ``ends``,
    ``steps``, one entry per sliced axis), a Gather of ``gather = (axis, indices)``, a Squeeze of
    the input axes in ``squeeze`` (those indexed by an int) and an Unsqueeze at the result
    positions in ``unsqueeze`` (those of None)."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    axes: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    squeeze: list[int] = field(default_factory=list)
    unsqueeze: list[int] = field(default_factory=list)
    gather: tuple[int, xp.ndarray] | None = None


def _getitem(g: GraphBuilder, op, ins, xs, y, out):
    plan = _plan_index(op, _expand_index(op, xs[0].ndim), xs[0].shape)
    _write_index(g, plan, ins[0], out)


def _expand_index(op, ndim: int) -> list:
    """``op.index`` as a list with one entry per input axis (plus the None entries): the
    Ellipsis and the missing trailing axes become ``slice(None)``. Raises for the forms not
    written yet: boolean indices, several array indices, several Ellipses."""
    index = op.index if isinstance(op.index, tuple) else (op.index,)
    arrays = [e for e in index if isinstance(e, xp.ndarray | list)]
    if any(xp.asarray(e).dtype == bool for e in arrays) or len(arrays) > 1:
        raise unsupported(op, "boolean or several array indices")
    real = sum(1 for e in index if e is not None and e is not Ellipsis)
    if sum(1 for e in index if e is Ellipsis) > 1:
        raise unsupported(op, "more than one Ellipsis")
    expanded: list = []
    for e in index:
        if e is Ellipsis:
            expanded.extend([slice(None)] * (ndim - real))
        else:
            expanded.append(e)
    expanded.extend([slice(None)] * (ndim - sum(1 for e in expanded if e is not None)))
    return expanded


def _plan_index(op, expanded: list, shape: tuple[int, ...]) -> _IndexPlan:
    """The ``_IndexPlan`` of an expanded index (``_expand_index``) into an input of ``shape``;
    negative ints and array entries are made non-negative."""
    plan = _IndexPlan()
    axis = pos = 0  # axis: in the input; pos: in the result
    for e in expanded:
        if e is None:
            plan.unsqueeze.append(pos)
            pos += 1
            continue
        if isinstance(e, slice):
            if e != slice(None):
                step = 1 if e.step is None else int(e.step)
                start = (0 if step > 0 else INT64_MAX) if e.start is None else int(e.start)
                end = (INT64_MAX if step > 0 else INT64_MIN) if e.stop is None else int(e.stop)
                _add_slice(plan, axis, start, end, step)
            pos += 1
        elif isinstance(e, int | xp.integer) and not isinstance(e, bool | xp.bool_):
            i = int(e) % shape[axis]
            _add_slice(plan, axis, i, i + 1, 1)
            plan.squeeze.append(axis)
        elif isinstance(e, xp.ndarray | list):
            plan.gather = (axis, xp.asarray(e, dtype=xp.int64) % shape[axis])
            pos += plan.gather[1].ndim
        else:
            raise unsupported(op, f"index entry of type {type(e).__name__}")
        axis += 1
    if plan.gather is not None and (plan.squeeze or plan.unsqueeze):
        # NumPy moves the indexed axes when an array index meets ints or None; not written yet.
        raise unsupported(op, "an array index combined with integers or None")
    return plan


def _add_slice(plan: _IndexPlan, axis: int, start: int, end: int, step: int) -> None:
    """Adds ``start:end:step`` on input ``axis`` to the plan's Slice."""
    plan.starts.append(start)
    plan.ends.append(end)
    plan.axes.append(axis)
    plan.steps.append(step)


def _write_index(g: GraphBuilder, plan: _IndexPlan, name: str, out: str) -> None:
    """Writes the plan's steps on the value ``name``, the last of them writing ``out`` (an
    Identity when the index takes the whole tensor)."""
    steps_after = [
        bool(plan.starts),
        plan.gather is not None,
        bool(plan.squeeze),
        bool(plan.unsqueeze),
    ]

    def last(k: int) -> str | None:
        return out if not any(steps_after[k + 1 :]) else None

    if plan.starts:
        bounds = [
            g.ints(plan.starts, "starts"),
            g.ints(plan.ends, "ends"),
            g.ints(plan.axes, "axes"),
        ]
        name = g.node("Slice", [name, *bounds, g.ints(plan.steps, "steps")], last(0))
    if plan.gather is not None:
        indices = g.const(plan.gather[1], hint="indices")
        name = g.node("Gather", [name, indices], last(1), axis=plan.gather[0])
    if plan.squeeze:
        name = g.node("Squeeze", [name, g.ints(plan.squeeze, "axes")], last(2))
    if plan.unsqueeze:
        name = g.node("Unsqueeze", [name, g.ints(plan.unsqueeze, "axes")], out)
    if not any(steps_after):  # x[...] or x[:]: the whole tensor
        g.node("Identity", [name], out)


def _embedding(g: GraphBuilder, op, ins, xs, y, out, index_names=None):
    indices = (index_names or {}).get(id(op.indices))
    if indices is None:
        # Indices that are not one of the exported inputs were computed outside the graph.
        g.frozen.append("embedding (its indices)")
        indices = g.const(xp.asarray(op.indices, dtype=xp.int64), hint="indices")
    g.node("Gather", [ins[0], indices], out, axis=0)


# ----- convolution and pooling -----
def _window(geom) -> dict:
    return {
        "kernel_shape": [geom.kh, geom.kw],
        "strides": [geom.sh, geom.sw],
        "pads": [geom.ph, geom.pw, geom.ph, geom.pw],
    }


def _conv2d(g: GraphBuilder, op, ins, xs, y, out):
    g.node("Conv", list(ins), out, **_window(op.geom))


def _max_pool2d(g: GraphBuilder, op, ins, xs, y, out):
    g.node("MaxPool", ins, out, **_window(op.geom))


def _avg_pool2d(g: GraphBuilder, op, ins, xs, y, out):
    # chainrule divides by kh·kw everywhere, the zero padding included.
    g.node("AveragePool", ins, out, count_include_pad=1, **_window(op.geom))


def _pad_constant(g: GraphBuilder, op, ins, xs, y, out):
    # ONNX lists the leading pads of every axis, then the trailing ones.
    pads = [lo for lo, _ in op.widths] + [hi for _, hi in op.widths]
    value = g.const(xp.asarray(op.value, dtype=y.dtype), hint="pad_value")
    g.node("Pad", [ins[0], g.ints(pads, "pads"), value], out, mode="constant")


def _pad_mode(g: GraphBuilder, op, ins, xs, y, out):
    x, a, nd = ins[0], op.axis, y.ndim
    if op.mode != "circular":  # ONNX Pad has reflect and edge; wrap only from opset 19
        pads = [0] * (2 * nd)
        pads[a], pads[nd + a] = op.lo, op.hi
        mode = "reflect" if op.mode == "reflect" else "edge"
        g.node("Pad", [x, g.ints(pads, "pads")], out, mode=mode)
        return
    n, ax = xs[0].shape[a], g.ints([a], "axes")
    left = g.node("Slice", [x, g.ints([n - op.lo], "starts"), g.ints([n], "ends"), ax])
    right = g.node("Slice", [x, g.ints([0], "starts"), g.ints([op.hi], "ends"), ax])
    g.node("Concat", [left, x, right], out, axis=a)


# ----- fused ops, decomposed -----
def _lstm_cell(g: GraphBuilder, op, ins, xs, y, out):
    # z (N, 4H) holds the pre-activations of gates i, f, g, o; c (N, H). Result (2, N, H).
    z, c = ins
    hidden = xs[1].shape[-1]
    zi, zf, zg, zo = g.multi("Split", [z, g.ints([hidden] * 4, "split")], 4, axis=-1)
    i, f, o = (g.node("Sigmoid", [t]) for t in (zi, zf, zo))
    gg = g.node("Tanh", [zg])
    cn = g.node("Add", [g.node("Mul", [f, c]), g.node("Mul", [i, gg])])
    h = g.node("Mul", [o, g.node("Tanh", [cn])])
    zero = g.ints([0], "axes")
    g.node("Concat", [g.node("Unsqueeze", [h, zero]), g.node("Unsqueeze", [cn, zero])], out, axis=0)


def _additive_score(g: GraphBuilder, op, ins, xs, y, out):
    # e = tanh(P + q[:, None, :]) @ w, for P (N, L, A), q (N, A), w (A,).
    p, q, w = ins
    t = g.node("Tanh", [g.node("Add", [p, g.node("Unsqueeze", [q, g.ints([1], "axes")])])])
    g.node("MatMul", [t, w], out)


def _weighted_sum(g: GraphBuilder, op, ins, xs, y, out):
    # z = (alpha[:, None, :] @ v)[:, 0, :], for alpha (N, L), v (N, L, D).
    alpha, v = ins
    one = g.ints([1], "axes")
    prod = g.node("MatMul", [g.node("Unsqueeze", [alpha, one]), v])
    g.node("Squeeze", [prod, one], out)


TRANSLATIONS: dict[type, Callable] = {
    **ACTIVATIONS,
    ops.Add: _binary("Add"),
    ops.Sub: _binary("Sub"),
    ops.Mul: _binary("Mul"),
    ops.Div: _binary("Div"),
    ops.Maximum: _binary("Max"),
    ops.Minimum: _binary("Min"),
    ops.Pow: _pow,
    ops.PowScalar: _pow_scalar,
    ops.Clone: _unary("Identity"),
    ops.Neg: _unary("Neg"),
    ops.Exp: _unary("Exp"),
    ops.Log: _unary("Log"),
    ops.Sqrt: _unary("Sqrt"),
    ops.Abs: _unary("Abs"),
    ops.Sin: _unary("Sin"),
    ops.Cos: _unary("Cos"),
    ops.elementwise.Tan: _unary("Tan"),
    ops.Tanh: _unary("Tanh"),
    ops.Sigmoid: _unary("Sigmoid"),
    ops.Relu: _unary("Relu"),
    Erf: _unary("Erf"),
    ops.shape.Flip: _flip,
    ops.shape.Roll: _roll,
    ops.shape.Triangle: _triangle,
    ops.Stepwise: _stepwise,
    ops.Clip: _clip,
    ops.Where: _where,
    ops.Cast: _cast,
    ops.MatMul: _binary("MatMul"),
    ops.Linear: _linear,
    ops.Einsum: _einsum,
    ops.Sum: _reduce("ReduceSum"),
    ops.Max: _reduce("ReduceMax"),
    ops.Min: _reduce("ReduceMin"),
    ops.Prod: _reduce("ReduceProd"),
    ops.CumSum: _cumsum,
    ops.Softmax: _softmax("Softmax"),
    ops.LogSoftmax: _softmax("LogSoftmax"),
    ops.Reshape: _reshape,
    ops.Transpose: _transpose,
    ops.BroadcastTo: _broadcast_to,
    ops.Cat: _cat,
    ops.GetItem: _getitem,
    Embedding: _embedding,
    Conv2d: _conv2d,
    PadConstant: _pad_constant,
    PadMode: _pad_mode,
    MaxPool2d: _max_pool2d,
    AvgPool2d: _avg_pool2d,
    LSTMCell: _lstm_cell,
    AdditiveScore: _additive_score,
    WeightedSum: _weighted_sum,
}
