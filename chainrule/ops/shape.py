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


class Flip(Op):
    """The entries in reverse order along ``axes``, copied (PyTorch's ``flip`` is a copy); the
    gradient is the upstream gradient flipped back. One copy: as a strided slice, clone and
    scatter into zeros it took 3.5x PyTorch's time (benchmarks/bench_per_op.py)."""

    name = "flip"
    saves = ()

    def __init__(self, axes: tuple[int, ...]):
        self.axes = axes

    def forward(self, x):
        return xp.flip(x, self.axes).copy()

    def vjp(self, m, g, x, y):
        if isinstance(g, xp.ndarray):
            return (xp.flip(g, self.axes),)
        return (m.apply(Flip(self.axes), g),)

    def jvp(self, t, x, y):
        return xp.flip(t, self.axes)


class Roll(Op):
    """Entries shifted by ``shifts`` along ``axes``, wrapping around; the gradient rolls back.
    ``np.roll`` copies slices, where an index_select gathered every element and scattered the
    gradient (9x PyTorch's time)."""

    name = "roll"
    saves = ()

    def __init__(self, shifts: tuple[int, ...], axes: tuple[int, ...]):
        self.shifts, self.axes = shifts, axes

    def forward(self, x):
        return xp.roll(x, self.shifts, self.axes)

    def vjp(self, m, g, x, y):
        back = tuple(-s for s in self.shifts)
        if isinstance(g, xp.ndarray):
            return (xp.roll(g, back, self.axes),)
        return (m.apply(Roll(back, self.axes), g),)

    def jvp(self, t, x, y):
        return xp.roll(t, self.shifts, self.axes)


_BITS = {xp.dtype(xp.float32): xp.int32, xp.dtype(xp.float64): xp.int64}


def keep_triangle(x, keep):
    """x where ``keep`` (a (rows, cols) mask broadcast over x's leading axes), else +0: for
    float32/float64 by AND-ing the bits with 0 or all ones (one pass, exact for every value),
    else ``np.where``."""
    bits = _BITS.get(x.dtype)
    if bits is None:
        return xp.where(keep, x, xp.zeros((), x.dtype))
    mask = keep.astype(bits)
    xp.negative(mask, out=mask)
    return xp.bitwise_and(x.view(bits), mask).view(x.dtype)


class Triangle(Op):
    """The lower (``tril``) or upper (``triu``) triangle of the last two axes, from
    ``diagonal``; the gradient is the upstream gradient's same triangle."""

    name = "tril"
    saves = ()

    def __init__(self, diagonal: int, upper: bool):
        self.diagonal, self.upper = diagonal, upper
        self.name = "triu" if upper else "tril"

    def keep(self, shape):
        ones = xp.ones(shape[-2:], dtype=bool)
        return xp.triu(ones, self.diagonal) if self.upper else xp.tril(ones, self.diagonal)

    def forward(self, x):
        return keep_triangle(x, self.keep(x.shape))

    def vjp(self, m, g, x, y):
        if isinstance(g, xp.ndarray):
            return (keep_triangle(g, self.keep(g.shape)),)
        return (m.apply(Triangle(self.diagonal, self.upper), g),)

    def jvp(self, t, x, y):
        return keep_triangle(t, self.keep(t.shape))
