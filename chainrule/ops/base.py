"""The base of every primitive op.

An op computes on raw arrays and knows nothing of Tensors or graphs. Its three methods sit side by
side so that the math of a primitive reads in one place:

* ``forward(*xs)`` -> the output array;
* ``vjp(m, g, *xs, y)`` -> one gradient per input (``None`` where an input takes none), given the
  upstream gradient ``g``, the inputs ``xs`` and the output ``y``. ``m`` is the math namespace:
  ``backend.ArrayMath`` on the fast first-order path, the differentiable functions of
  ``chainrule.autograd.functions`` (and then ``g``, ``xs``, ``y`` are Tensors) when the backward
  pass itself is recorded (``create_graph=True``). VJPs are written with operators and ``m.*`` only,
  so the same rule serves both: gradients of gradients come for free.
  A VJP may return a gradient of the *broadcast* shape; the engine sums it back to the input's
  shape in one place (``sum_to``).
* ``jvp(*ts, *xs, y)`` -> the output tangent, given one tangent per input (forward mode).

Non-differentiable arguments (axes, shapes, indices) are given to ``__init__`` and kept on the op.
"""

from __future__ import annotations


class Op:
    """One primitive operation: forward on arrays, its VJP and JVP below it."""

    name = "op"
    # Set by the autograd layer when the result needs a gradient: the input Tensors, and under
    # detect_anomaly the user's line that created the op.
    inputs = None
    trace = None
    _v = 0  # the in-place write count when the node was recorded (grad_mode.state.epoch)

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def vjp(self, m, g, *args):
        raise NotImplementedError(f"{self.name} has no reverse-mode rule (vjp)")

    def jvp(self, *args):
        raise NotImplementedError(f"{self.name} has no forward-mode rule (jvp)")

    def error_message(self, xs, exc: Exception) -> str:
        """What to tell the user when ``forward`` failed on ``xs``; ops override for detail."""
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return f"{self.name}: {exc} (input shapes {shapes})"

    def __repr__(self) -> str:
        return f"<op {self.name}>"


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
