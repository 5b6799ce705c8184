"""The base of every primitive op.

An op computes on raw arrays and knows nothing of Tensors or graphs. Its three methods sit side by
side so that the math of a primitive reads in one place:

* ``forward(*xs)`` -> the output array;
* ``vjp(m, g, *xs, y)`` -> one gradient per input (``None`` where an input takes none), given the
  upstream gradient ``g``, the inputs ``xs`` and the output ``y``. ``m`` is the math namespace:
  ``backend.ArrayMath`` on the fast first-order path, the differentiable functions of
  ``chainrule.autograd.tensor_math`` (and then ``g``, ``xs``, ``y`` are Tensors) when the backward
  pass itself is recorded (``create_graph=True``). VJPs are written with operators and the names of
  ``VJPMath`` only, so the same rule serves both: gradients of gradients come for free.
  A VJP may return a gradient of the *broadcast* shape; the engine sums it back to the input's
  shape in one place (``sum_to``).
* ``jvp(*ts, *xs, y)`` -> the output tangent, given one tangent per input (forward mode).

Non-differentiable arguments (axes, shapes, indices) are given to ``__init__`` and kept on the op.

What a VJP reads is declared (``saves``, or ``saved(needs)`` where it depends on which inputs take
a gradient): input positions, and ``"y"`` for the output. The backward walk refuses a node one of
whose saved values was written in place after it was recorded, and lets every other node run,
as PyTorch does. An op that declares nothing is taken to read all its inputs and its output.

What ``cr.compile`` needs from an op (the whole contract for op authors)
------------------------------------------------------------------------
A compiled step is recorded once and replayed on a copy of each op, calling the same ``forward``
and ``vjp`` on the new step's arrays. So an op must keep nothing computed from the step's data on
itself before ``forward`` runs, except the attributes it lists in ``per_call_arrays`` (an index, a
mask): a replay sets those anew at every call. Anything else is an error the recording reports
(the step then runs eagerly). What ``forward`` saves on ``self`` for ``vjp`` is fine: it is made
again by every replayed forward. ``CompilableOp`` states this as a Protocol.

Layer and function authors (above the ops) use the hooks named for what a replay does with them
(``recomputed`` in ``autograd.tensor``, the others in ``autograd.compile_hooks``): ``recomputed`` for a value computed from data without a gradient (a
comparison, an argmax), ``redrawn`` for a random draw, ``side_effect`` for a change to state outside
the graph (BatchNorm's running statistics); ``@replayed_whole`` marks a method that a replay calls
as one unit (an optimiser's ``step``).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Protocol


class VJPMath(Protocol):
    """The math namespace ``m`` of a VJP: ``backend.ArrayMath`` (arrays) or
    ``autograd.tensor_math`` (Tensors, when the backward pass is itself differentiated). A VJP
    uses operators and these names only; tests/autograd/test_engine.py checks that both provide them."""

    def apply(self, op: Op, *xs: Any) -> Any: ...  # another op (differentiable on Tensors)
    def sum_to(self, x: Any, shape: tuple[int, ...]) -> Any: ...  # broadcast axes summed away
    def sum(self, x: Any, axis: Any = None, keepdims: bool = False) -> Any: ...
    def where(self, cond: Any, a: Any, b: Any) -> Any: ...
    def matmul(self, a: Any, b: Any) -> Any: ...
    def swapaxes(self, x: Any, a: int, b: int) -> Any: ...
    def broadcast_to(self, x: Any, shape: tuple[int, ...]) -> Any: ...
    def concatenate(self, xs: Any, axis: int = 0) -> Any: ...
    def index_add(self, g: Any, index: Any, shape: tuple[int, ...]) -> Any: ...  # g scattered
    def zeros(self, shape: tuple[int, ...], like: Any) -> Any: ...
    def cast(self, x: Any, dtype: Any) -> Any: ...
    def softmax(self, x: Any, axis: int) -> Any: ...
    def maximum(self, a: Any, b: Any) -> Any: ...
    def minimum(self, a: Any, b: Any) -> Any: ...
    def exp(self, x: Any) -> Any: ...
    def log(self, x: Any) -> Any: ...
    def sqrt(self, x: Any) -> Any: ...
    def sign(self, x: Any) -> Any: ...
    def sin(self, x: Any) -> Any: ...
    def cos(self, x: Any) -> Any: ...


class CompilableOp(Protocol):
    """What a ``cr.compile`` recording needs from an op (see the module docstring)."""

    name: str
    # Attributes holding arrays computed from the step's data before forward (set per replay).
    per_call_arrays: ClassVar[tuple[str, ...]]

    def forward(self, *xs: Any) -> Any: ...
    def vjp(self, m: VJPMath, g: Any, *args: Any) -> tuple: ...


class ExplainText(NamedTuple):
    """How ``chainrule explain`` writes an elementwise op's derivative dy/dx. {x} and {y} stand
    for the input's and the output's names (in the second text of ``scalar``, their values, and
    {one_minus_y} for 1 − y).

    ``scalar``: at a scalar node, over the names, then (where given) with the values put in:
    ``("cos {x}", "cos {x}")``; ``prime``: in a vector rule, the derivative's name and what it
    is: ``("sin'({x})", "cos {x}")``.
    """

    scalar: tuple[str, ...] | None = None
    prime: tuple[str, str] | None = None


class Op:
    """One primitive operation: forward on arrays, its VJP and JVP below it."""

    name = "op"
    per_call_arrays: ClassVar[tuple[str, ...]] = ()
    # Set by the autograd layer when the result needs a gradient: the input Tensors, and under
    # detect_anomaly the user's line that created the op.
    inputs = None
    trace = None
    _v = 0  # the in-place write count when the node was recorded (grad_mode.state.epoch)
    # The values the VJP reads (input positions, "y" for the output); None: all of them.
    saves: ClassVar[tuple | None] = None

    # How ``chainrule explain`` writes this op's derivative (see ``ExplainText``), beside the op
    # so that a new op is explained by its own class; None: the report shows numbers only.
    explain: ClassVar[ExplainText | None] = None
    # Whether dy/dx is diagonal, so that a picture shows it as numbers of x's shape; None: the
    # ops that write a ``prime`` are, the others are not.
    explain_elementwise: ClassVar[bool | None] = None

    @classmethod
    def explained_elementwise(cls) -> bool:
        """``explain_elementwise``, or where it is None whether the op writes a ``prime``."""
        if cls.explain_elementwise is not None:
            return cls.explain_elementwise
        return cls.explain is not None and cls.explain.prime is not None

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def vjp(self, m, g, *args):
        raise NotImplementedError(f"{self.name} has no reverse-mode rule (vjp)")

    def jvp(self, *args):
        raise NotImplementedError(f"{self.name} has no forward-mode rule (jvp)")

    def saved(self, needs: tuple[bool, ...]) -> tuple:
        """The values this op's VJP reads when the inputs marked True in ``needs`` take a
        gradient: input positions, and ``"y"`` for the output (``saves``, else all of them)."""
        if self.saves is None:
            return (*range(len(needs)), "y")
        return self.saves

    def error_message(self, xs, exc: Exception) -> str:
        """What to tell the user when ``forward`` failed on ``xs``; ops override for detail."""
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return f"{self.name}: {exc} (input shapes {shapes})"

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def cross_saved(needs: tuple[bool, ...]) -> tuple[int, ...]:
    """``saved`` of a product of inputs 0 and 1 (a * b, a @ b, x Wᵀ, x ⋆ w): the gradient of
    each reads the other, so input 1 is read when input 0 takes a gradient, and the reverse."""
    return (1,) * needs[0] + (0,) * needs[1]


def takes_grad(op: Op, i: int, g, other) -> bool:
    """Whether input i of a product takes a gradient (``op.inputs`` as the autograd layer or a
    replay set them, as conv's ``_needs_grad``): the 2 of x * 2 is spared a product of the
    gradient's size. Its shapes are checked all the same, so that a tensor given a new shape in
    place since the op ran is still reported as such (engine._reshaped_error)."""
    if op.inputs is None or op.inputs[i].requires_grad:
        return True
    for p, q in zip(reversed(tuple(g.shape)), reversed(tuple(other.shape))):
        if p != q and 1 not in (p, q):  # NumPy's words, as the product would have raised
            raise ValueError(
                f"operands could not be broadcast together with shapes {g.shape} {other.shape}"
            )
    return False


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with each reduced axis kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
