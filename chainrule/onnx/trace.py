"""What the exporter hears while the model's forward runs: values leaving the graph, and the
values computed beside it.

The autograd graph holds only what a gradient can flow through. A comparison (``x > 0``), a
mask turned into numbers (``(x > 0).float()``), and anything computed from them without a
gradient are not in it; traced naively they would be frozen into the file as the example's
values. ``ExportTracer`` is installed as the recording that eager code reports to (the same
hooks ``cr.compile`` uses: ``apply`` for each op, ``recomputed`` for each value computed without
a gradient, ``escape`` where data leaves for Python), and keeps, by the identity of each array
made, how it was made. The exporter then writes those values as ONNX nodes (Greater, Not,
Cast, Where, ...) instead of constants.

Where a value really leaves the graph -- ``bool(t)`` (a Python ``if`` on a tensor), ``.item()``,
``.tolist()``, ``.numpy()``, ``float(t)``, ``int(t)`` -- nothing can follow it: the exported model
keeps the example's value. That is warned about with a ``TracerWarning`` at the user's line, as
PyTorch's tracer does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import xp
from chainrule.errors import user_line, warn_user


class TracerWarning(Warning):
    """A value left the graph during ``cr.onnx.export`` and is frozen in the exported model (as
    ``torch.jit.TracerWarning``)."""


# The escapes (see ``autograd.tensor.escape``) after which the value is a Python object, and
# what it became; the others (``.data``, in-place writes) keep the value a tensor.
_LEAVES = {
    "bool()": "a Python boolean",
    "item()": "a Python number",
    "tolist()": "a Python list",
    "numpy()": "a NumPy array",
    "conversion to a NumPy array": "a NumPy array",
    "int()": "a Python integer",
    "float()": "a Python float",
    "complex()": "a Python complex",
}


class Made:
    """How an array outside the autograd graph was made: ``fn(*args, **kwargs)`` (a recomputed
    value, ``fn`` a NumPy function) or ``op`` applied to ``args`` (Tensors); ``index`` picks one
    of several results. ``out`` keeps the array alive so that its ``id`` stays unique."""

    __slots__ = ("args", "fn", "index", "kwargs", "op", "out")

    def __init__(self, out, fn=None, op=None, args=(), kwargs=None, index=None) -> None:
        self.out, self.fn, self.op, self.args = out, fn, op, tuple(args)
        self.kwargs, self.index = dict(kwargs or {}), index


class ExportTracer:
    """The recording ``cr.onnx.export`` installs while the forward runs (the protocol of
    ``jit.recording``: ``busy``, ``apply``, ``recomputed``, ``escape`` and the rest)."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.busy = False
        self.made: dict[int, Made] = {}  # id(array) -> how it was made
        # id(array) -> the graph tensor holding it, for operands passed on as bare arrays
        # (``x > y`` hands y's array to NumPy).
        self.tensors: dict[int, Tensor] = {id(t._data): t for t in inputs}
        self._inputs = {id(t) for t in inputs}

    def dynamic(self, t: Any) -> bool:
        """Whether ``t`` (a Tensor, or an array that reached a NumPy function bare) depends on
        the model's inputs or parameters, so must not be frozen."""
        if not isinstance(t, Tensor):
            return id(t) in self.made or id(t) in self.tensors
        return t._node is not None or id(t) in self._inputs or id(t._data) in self.made

    # ----- the recording protocol -----
    def apply(self, op, inputs):
        self.busy = True
        try:
            t = apply(op, *inputs)
        finally:
            self.busy = False
        if t._node is not None:
            self.tensors.setdefault(id(t._data), t)
        elif any(self.dynamic(i) for i in inputs):
            # An op on values outside the graph (a mask's arithmetic) makes no graph node.
            self.made[id(t._data)] = Made(t._data, op=op, args=inputs)
        return t

    def recomputed(self, fn, args, kwargs, out) -> None:
        if not any(self.dynamic(a) for a in args):
            return  # made from constants only: a constant it is
        outs = out if isinstance(out, tuple) else (out,)
        for k, o in enumerate(outs):
            # NumPy scalars too (a 0-d result), but not np.True_/np.False_: they are singletons,
            # so their identity would name every boolean scalar at once.
            if isinstance(o, xp.ndarray) or (isinstance(o, xp.generic) and o.dtype != bool):
                index = k if isinstance(out, tuple) else None
                self.made[id(o)] = Made(o, fn=fn, args=args, kwargs=kwargs, index=index)

    def escape(self, what: str) -> None:
        kind = next((v for k, v in _LEAVES.items() if what.startswith(k)), None)
        if kind is None:
            return
        warn_user(
            f"Converting a tensor to {kind} ({what}) at {user_line()} might cause the trace to "
            "be incorrect: the value leaves the graph, so the exported model keeps the value it "
            "had for the example inputs (it is frozen in the exported graph) and will not "
            "follow other inputs.",
            TracerWarning,
        )

    def redrawn(self, fn, args, out) -> None:
        """Random draws: the forward runs in eval mode, so none reach the graph."""

    def side_effect(self, fn, args) -> None:
        """State outside the graph (running statistics): not part of the exported model."""

    def call(self, method, args, kwargs):
        return method(*args, **kwargs)

    def guard(self, module) -> None:
        """Modules' modes: the export runs in eval mode throughout."""

    @contextlib.contextmanager
    def watching_backward(self, create_graph: bool) -> Iterator[None]:
        yield None


@contextlib.contextmanager
def tracing(inputs: list[Tensor]) -> Iterator[ExportTracer]:
    """Installs an ``ExportTracer`` for the block (restoring what was there)."""
    from chainrule.autograd.grad_mode import state

    tracer = ExportTracer(inputs)
    prev = state.tracer
    state.tracer = tracer
    try:
        yield tracer
    finally:
        state.tracer = prev
