"""``cr.onnx.export``: a model's recorded forward pass written as an ONNX file.

The forward runs once on example inputs with the graph recorded; the walk from the outputs back
to the inputs (``engine.toposort``) lists every op, and each is written as ONNX nodes
(``chainrule.onnx.symbolic``). Parameters become initializers under their state-dict names.
Values computed from the inputs beside the graph (a comparison, a mask and arithmetic on it) are
seen by an ``ExportTracer`` while the forward runs and written as ONNX ops (``onnx/writer.py``);
values that leave for Python (``bool(t)``, ``.item()``, ``.numpy()``, ...) cannot be followed
and are frozen, with a ``TracerWarning`` at the user's line, as PyTorch's tracer warns.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from chainrule.autograd.engine import toposort
from chainrule.autograd.grad_mode import enable_grad
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.symbolic import TRANSLATIONS, unsupported
from chainrule.onnx.trace import ExportTracer, tracing
from chainrule.onnx.writer import Writer
from chainrule.serialization import write_atomically

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Squeeze/Unsqueeze/Split/ReduceSum take their axes as inputs from 13 on


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:  # an optional dependency: chainrule itself runs without it
        raise ImportError(
            "cr.onnx.export needs the onnx package: pip install onnx "
            '(or pip install "chainrule[onnx]")'
        ) from exc
    return onnx


def export(
    model: Any,
    args: Any,
    f: Any,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset_version: int | None = None,
    dynamic_axes: Mapping[str, Sequence[int] | Mapping[int, str]] | None = None,
) -> None:
    """Writes ``model``'s forward pass on ``args`` to ``f`` as an ONNX model, as
    ``torch.onnx.export(model, args, f, ...)`` does.

    The forward runs once, in eval mode (dropout off, batch norm on its running statistics; the
    mode is restored after), with the graph recorded whatever the grad mode. Parameters are stored
    as initializers named as in ``model.state_dict()``.

    Args:
        model: a ``Module`` (or any callable) whose forward takes the Tensors of ``args``.
        args: the example inputs: a Tensor or a tuple of them (other values are passed through
            as Python constants).
        f: a path (written atomically: a temporary file renamed over it) or a binary file object.
        input_names: names of the graph inputs, in order (default ``input_0``, ``input_1``, ...).
        output_names: names of the outputs, in the order ``forward`` returns them (default
            ``output_0``, ...); tuples and lists of outputs are flattened.
        opset_version: the ONNX opset, 13 or later (default 17).
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "dim_name"}}``: axes of inputs and
            outputs whose size may differ from the example's (usually the batch axis).

    Raises:
        UnsupportedOperatorError: the forward used an op with no ONNX translation; raised before
            anything is written, and naming the op.
        ImportError: the ``onnx`` package is not installed.
        ValueError: an unknown name in ``dynamic_axes`` (PyTorch only warns, and exports a
            model without the dynamic axis), an axis the named input or output lacks (PyTorch
            refuses it for an input, with a RuntimeError: this error is both), a name given
            twice, or a bad opset.
    Warns:
        TracerWarning: a value left the graph for Python during the forward (``bool(t)``,
            ``.item()``, ``.tolist()``, ``.numpy()``, ``float(t)``, ``int(t)``): the exported
            model keeps its example value.
    """
    onnx = _import_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"cr.onnx.export: opset_version must lie in [{MIN_OPSET}, {newest}], got {opset}"
        )
    args = args if isinstance(args, tuple) else (args,)
    traced_args, inputs = _trace_inputs(args)
    with tracing(inputs) as tracer:
        outputs = _run_forward(model, traced_args)
    in_names = _names(input_names, len(inputs), "input", "input_names")
    out_names = _names(output_names, len(outputs), "output", "output_names")
    dynamic_axes = dict(dynamic_axes or {})
    _check_dynamic_axes(dynamic_axes, dict(zip(in_names + out_names, inputs + outputs)))
    model_proto = _build(
        onnx, model, tracer, inputs, outputs, in_names, out_names, opset, dynamic_axes
    )
    _write(model_proto.SerializeToString(), f)


def _trace_inputs(args: tuple) -> tuple[tuple, list[Tensor]]:
    """Fresh leaves around the example Tensors' arrays (the same arrays, so that an embedding's
    indices are recognised as an input), floating ones requiring grad so that every op on them
    is recorded."""
    traced, inputs = [], []
    for a in args:
        if isinstance(a, Tensor):
            t = constant(a._data)
            if a._data.dtype.kind in "fc":
                t.requires_grad_(True)
            traced.append(t)
            inputs.append(t)
        else:
            traced.append(a)
    return tuple(traced), inputs


def _run_forward(model: Any, args: tuple) -> list[Tensor]:
    """Runs ``model(*args)`` in eval mode with every parameter requiring grad (so the graph is
    recorded through all of them); restores the mode and the flags after."""
    was_training = getattr(model, "training", None)
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    flags = [p.requires_grad for p in params]
    try:
        if hasattr(model, "eval"):
            model.eval()
        for p in params:
            p.requires_grad = True
        with enable_grad():
            result = model(*args)
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad = flag
        if was_training is not None and hasattr(model, "train"):
            model.train(was_training)
    outputs: list[Tensor] = []
    stack = [result]
    while stack:  # flatten nested tuples and lists, in order
        r = stack.pop(0)
        if isinstance(r, tuple | list):
            stack[:0] = list(r)
        elif isinstance(r, Tensor):
            outputs.append(r)
        elif r is not None:
            raise TypeError(
                f"cr.onnx.export: the model returned a {type(r).__name__}; outputs must be "
                "Tensors (or tuples and lists of them)"
            )
    if not outputs:
        raise ValueError("cr.onnx.export: the model returned no Tensor")
    return outputs


def _names(given: Sequence[str] | None, n: int, stem: str, what: str) -> list[str]:
    given = list(given or [])
    if len(given) > n:
        raise ValueError(f"cr.onnx.export: {len(given)} {what} for {n} {stem}s")
    return given + [f"{stem}_{i}" for i in range(len(given), n)]


class DynamicAxesError(ValueError, RuntimeError):
    """A ``dynamic_axes`` entry that does not fit the model's inputs and outputs: a
    ``ValueError``, and the ``RuntimeError`` PyTorch raises for an axis an input lacks."""


def _check_dynamic_axes(dynamic_axes: Mapping, values: dict[str, Tensor]) -> None:
    """Refuses a name that is not an input or output, and an axis that its tensor lacks (a
    ``dynamic_axes`` entry that would be silently ignored, leaving a fixed size in the file)."""
    unknown = set(dynamic_axes) - set(values)
    if unknown:
        raise DynamicAxesError(
            f"cr.onnx.export: dynamic_axes names {sorted(unknown)}, which are not among the "
            f"input and output names {list(values)}"
        )
    for name, axes in dynamic_axes.items():
        rank = values[name]._data.ndim
        given = list(axes.keys() if isinstance(axes, Mapping) else axes)
        for a in given:
            if not isinstance(a, int | xp.integer) or isinstance(a, bool):
                raise DynamicAxesError(
                    f"cr.onnx.export: dynamic_axes[{name!r}] must list axes as ints, got {a!r}"
                )
            if not -rank <= a < rank:
                raise DynamicAxesError(
                    f"cr.onnx.export: dynamic_axes[{name!r}] names axis {a}, but {name!r} has "
                    f"{rank} dimension{'s' * (rank != 1)} (shape "
                    f"{tuple(values[name]._data.shape)}): Dynamic shape axis should be no more "
                    f"than the shape dimension"
                )


def _build(onnx, model, tracer, inputs, outputs, in_names, out_names, opset, dynamic_axes):
    """The ModelProto of the traced graph; raises before building anything if an op has no
    translation."""
    order = toposort(outputs, constants=True)
    for t in order:
        if t._node is not None and type(t._node) not in TRANSLATIONS:
            raise unsupported(t._node)
    _check_beside(tracer)

    g = GraphBuilder(onnx, opset)
    names: dict[int, str] = {}  # id(tensor) -> its ONNX value name
    for t, name in zip(inputs, in_names, strict=True):
        g.reserve(name)
        names[id(t)] = name
    for name in out_names:
        g.reserve(name)
    # An embedding reads its indices as an array: found by identity among the inputs' arrays.
    index_names = {id(t._data): names[id(t)] for t in inputs if t._data.dtype.kind in "iu"}
    wanted: dict[int, str] = {}  # id(output tensor) -> its first output name
    for t, name in zip(outputs, out_names, strict=True):
        wanted.setdefault(id(t), name)
    writer = Writer(g, tracer, names, _parameter_names(model), index_names, wanted)
    for t in inputs:
        writer.arrays.setdefault(id(t._data), names[id(t)])
    writer.write(order)
    for t, name in zip(outputs, out_names, strict=True):
        if id(t) not in names:  # an output made beside the graph (a mask), not reached yet
            writer.write(toposort([t], constants=True))
        if names[id(t)] != name:  # an input, a parameter, or an output listed twice
            g.node("Identity", [names[id(t)]], name)
    if g.frozen:
        warnings.warn(
            "cr.onnx.export: values computed outside the graph were stored as constants for: "
            + ", ".join(sorted(set(g.frozen)))
            + "; the exported model uses the example's values for them",
            stacklevel=3,
        )
    return _make_model(onnx, g, model, inputs, outputs, in_names, out_names, opset, dynamic_axes)


def _check_beside(tracer: ExportTracer) -> None:
    """Raises before anything is written if an op applied beside the graph (on a mask) has no
    translation."""
    for made in tracer.made.values():
        if made.op is not None and type(made.op) not in TRANSLATIONS:
            raise unsupported(made.op)


def _parameter_names(model: Any) -> dict[int, str]:
    """``id(parameter) -> its state-dict name`` (the first name of a parameter shared under
    several); empty for a plain callable."""
    param_names: dict[int, str] = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters():
            param_names.setdefault(id(p), name)
    return param_names


def _value_info(onnx, g: GraphBuilder, name: str, arr: xp.ndarray, dynamic_axes: Mapping):
    """The ValueInfoProto of a graph input or output: ``arr``'s element type and shape, with the
    axes ``dynamic_axes`` names for it (negative ones counted from the end) given as symbolic
    dimensions (``{name}_dynamic_axes_{k}`` where only their positions were given)."""
    axes = dynamic_axes.get(name, {})
    if not isinstance(axes, Mapping):
        axes = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    dims = [axes.get(i, axes.get(i - arr.ndim, n)) for i, n in enumerate(arr.shape)]
    return onnx.helper.make_tensor_value_info(name, g.elem_type(arr.dtype), dims)


def _make_model(onnx, g, model, inputs, outputs, in_names, out_names, opset, dynamic_axes):
    """The checked ModelProto around ``g``'s nodes and initializers, the graph named after the
    model's class."""
    graph = onnx.helper.make_graph(
        g.nodes,
        type(model).__name__,
        [
            _value_info(onnx, g, n, t._data, dynamic_axes)
            for t, n in zip(inputs, in_names, strict=True)
        ],
        [
            _value_info(onnx, g, n, t._data, dynamic_axes)
            for t, n in zip(outputs, out_names, strict=True)
        ],
        g.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="chainrule",
        # The oldest IR version that has this opset: the file loads in the most runtimes.
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(proto)
    return proto


def _write(data: bytes, f: Any) -> None:
    """Writes ``data`` to a binary file object, or to a path atomically (a temporary file in the
    same directory, fsync'ed, renamed over it), as ``cr.save`` does."""
    if hasattr(f, "write"):
        f.write(data)
        return

    def fill(tmp: str) -> None:
        with open(tmp, "wb") as out:
            out.write(data)

    write_atomically(f, fill, "cr.onnx.export")
