"""Ops that move elements without computing on them: reshape, transpose, broadcast, concatenate."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.base import Op


class Reshape(Op):
    name = "reshape"
    saves = ()

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def vjp(self, m, g, x, y):
        return (g.reshape(x.shape),)

    def jvp(self, t, x, y):
        return t.reshape(y.shape)

    def error_message(self, xs, exc):
        (x,) = xs
        return f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) into {self.shape}"


class Transpose(Op):
    """Permutes axes like ``numpy.transpose`` (reverses them when ``axes`` is None)."""

    name = "transpose"
    saves = ()

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        if self.axes is None:
            self.axes = tuple(reversed(range(x.ndim)))
        return x.transpose(self.axes)

    def vjp(self, m, g, x, y):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return (g.transpose(tuple(inverse)),)

    def jvp(self, t, x, y):
        return t.transpose(self.axes)

    def error_message(self, xs, exc):
        (x,) = xs
        return f"transpose: axes {self.axes} are not a permutation of the {x.ndim} axes of a tensor of shape {tuple(x.shape)}"


class BroadcastTo(Op):
    name = "broadcast_to"
    saves = ()

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x):
        return xp.broadcast_to(x, self.shape)

    def vjp(self, m, g, x, y):
        return (m.sum_to(g, x.shape),)

    def jvp(self, t, x, y):
        return xp.broadcast_to(t, self.shape)

    def error_message(self, xs, exc):
        (x,) = xs
        return f"broadcast_to: cannot broadcast a tensor of shape {tuple(x.shape)} to {self.shape}"


class Cat(Op):
    """Joins tensors along an existing axis; the gradient is split back into the pieces."""

    name = "cat"
    saves = ()

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *xs):
        return xp.concatenate(xs, axis=self.axis)

    def vjp(self, m, g, *args):
        xs = args[:-1]
        axis = self.axis % g.ndim
        grads, start = [], 0
        for x in xs:
            stop = start + x.shape[axis]
            grads.append(g[(slice(None),) * axis + (slice(start, stop),)])
            start = stop
        return tuple(grads)

    def jvp(self, *args):
        n = (len(args) - 1) // 2
        return xp.concatenate(args[:n], axis=self.axis)

    def error_message(self, xs, exc):
        shapes = ", ".join(str(tuple(x.shape)) for x in xs)
        return (
            f"cat: tensors must agree in every dimension but axis {self.axis}; got shapes {shapes}"
        )
