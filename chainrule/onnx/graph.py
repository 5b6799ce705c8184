"""The ONNX graph under construction: its nodes, constants and value names.

``GraphBuilder`` is what the per-op translations in ``chainrule.onnx.symbolic`` write into. It
holds no chainrule state; ``chainrule.onnx.export`` names the traced tensors and then asks each
recorded op to write its nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.backend import xp

# ONNX Slice's "to the end" and "past the beginning" bounds: larger than any dimension, so the
# slice stays correct when a dynamic axis is longer than it was when traced.
INT64_MAX = xp.iinfo(xp.int64).max
INT64_MIN = xp.iinfo(xp.int64).min


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names.

    Args:
        onnx: the imported ``onnx`` module (imported lazily by the exporter).
        opset: the ONNX opset the nodes are written for.
    """

    def __init__(self, onnx: Any, opset: int) -> None:
        self.onnx = onnx
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.frozen: list[str] = []  # ops whose data-dependent operands were baked in as constants
        # The exporter's lookup of an array the graph computes (a traced mask), or None.
        self.resolve: Callable[[xp.ndarray], str | None] = lambda arr: None
        self._used: set[str] = set()
        self._counter = 0

    def unique(self, hint: str) -> str:
        """A value name not used yet, ``hint`` itself when it is free."""
        name = hint
        while name in self._used:
            self._counter += 1
            name = f"{hint}_{self._counter}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claims ``name`` exactly (an input, output or parameter name the user will see)."""
        if name in self._used:
            raise ValueError(f"ONNX export: the name {name!r} is used twice")
        self._used.add(name)

    def const(self, value: Any, dtype: Any = None, hint: str = "const") -> str:
        """An initializer holding ``value`` (an array or a number); returns its name."""
        arr = xp.asarray(value, dtype=dtype)
        name = self.unique(hint)
        self.initializer(xp.ascontiguousarray(arr) if arr.ndim else arr, name)
        return name

    def ints(self, values, hint: str = "ints") -> str:
        """A 1-D int64 initializer (shapes, axes, slice bounds)."""
        return self.const(xp.asarray(list(values), dtype=xp.int64).reshape(-1), hint=hint)

    def initializer(self, arr: xp.ndarray, name: str) -> None:
        """Adds ``arr`` as the initializer ``name`` (already reserved or unique)."""
        self.initializers.append(self.onnx.numpy_helper.from_array(xp.asarray(arr), name))

    def node(self, op_type: str, inputs: list[str], out: str | None = None, **attrs: Any) -> str:
        """Appends one node with a single output; returns the output's name (``out`` if given)."""
        if out is None:
            out = self.unique(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def multi(self, op_type: str, inputs: list[str], n_out: int, **attrs: Any) -> list[str]:
        """Appends one node with ``n_out`` outputs (Split); returns their names."""
        outs = [self.unique(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outs, **attrs))
        return outs

    def cast(self, name: str, from_dtype: xp.dtype, to_dtype: xp.dtype) -> str:
        """``name`` cast to ``to_dtype`` when its dtype differs (NumPy promotes mixed operands;
        ONNX ops want them equal)."""
        if xp.dtype(from_dtype) == xp.dtype(to_dtype):
            return name
        return self.node("Cast", [name], to=self.elem_type(to_dtype))

    def elem_type(self, dtype: Any) -> int:
        """The ONNX TensorProto element type of a NumPy dtype."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(xp.dtype(dtype))

    def reduce(self, op_type: str, x: str, axes, keepdims: bool, out: str) -> str:
        """A Reduce* node over ``axes``: axes as an input from opset 18 (13 for ReduceSum), as an
        attribute before."""
        keep = int(bool(keepdims))
        takes_input = op_type == "ReduceSum" or self.opset >= 18
        if takes_input:
            return self.node(op_type, [x, self.ints(axes, "axes")], out, keepdims=keep)
        return self.node(op_type, [x], out, axes=list(axes), keepdims=keep)
