"""Reductions over axes (NumPy's ``axis``/``keepdims``)."""

from __future__ import annotations

from chainrule.backend import ArrayMath, bfloat16, xp
from chainrule.ops.base import Op, keepdims_shape, normalize_axes


class _Reduce(Op):
    def __init__(self, axis, keepdims: bool):
        self.axis, self.keepdims = axis, keepdims
        self.axes = None  # resolved against the input's ndim in forward

    def _expand(self, g, x):
        """The upstream gradient reshaped so that it broadcasts against the input."""
        return g if self.keepdims else g.reshape(keepdims_shape(x.shape, self.axes))


class Sum(_Reduce):
    name = "sum"
    saves = ()

    def forward(self, x):
        self.axes = normalize_axes(self.axis, x.ndim)
        if x.dtype == bfloat16:  # accumulated in float32, rounded once, as PyTorch's CPU sum
            return x.sum(axis=self.axes, keepdims=self.keepdims, dtype=xp.float32).astype(x.dtype)
        # All axes as None: the same sum, without NumPy checking a tuple of axes (half its cost
        # on a loss's few hundred values).
        axes = None if self.axis is None else self.axes
        return x.sum(axis=axes, keepdims=self.keepdims)

    def vjp(self, m, g, x, y):
        # A 0-d gradient (of a full sum, a loss) broadcasts as it is, without a reshape.
        return (m.broadcast_to(g if g.ndim == 0 else self._expand(g, x), x.shape),)

    def jvp(self, t, x, y):
        return t.sum(axis=self.axes, keepdims=self.keepdims)


class Max(_Reduce):
    """Largest value along axes. Where several elements tie for the maximum, the gradient is
    shared equally among them (as ``torch.amax``)."""

    name = "max"
    pick = staticmethod(xp.max)

    def forward(self, x):
        self.axes = normalize_axes(self.axis, x.ndim)
        if x.size == 0:
            raise ValueError("cannot take the max or min of an empty tensor")
        return self.pick(x, axis=self.axes, keepdims=self.keepdims)

    def _share(self, x, y):
        yk = y if self.keepdims else y.reshape(keepdims_shape(x.shape, self.axes))
        mask = x == yk
        count = mask.sum(axis=self.axes, keepdims=True)
        return mask, count

    def vjp(self, m, g, x, y):
        mask, count = self._share(x, y)
        return (m.where(mask, self._expand(g, x) / count, 0),)

    def jvp(self, t, x, y):
        mask, count = self._share(x, y)
        return (xp.where(mask, t, 0) / count).sum(axis=self.axes, keepdims=self.keepdims)


class Min(Max):
    name = "min"
    pick = staticmethod(xp.min)


class CumSum(Op):
    """Running sums along ``axis`` (from the end when ``reverse``). The gradient of a running sum
    is the running sum of the gradient taken from the other end."""

    name = "cumsum"

    def __init__(self, axis: int, reverse: bool = False):
        self.axis, self.reverse = axis, reverse

    def forward(self, x):
        if not self.reverse:
            return xp.cumsum(x, axis=self.axis)
        if isinstance(x, xp.ndarray) and x.ndim > 0 and x.dtype.kind == "f":
            # written backwards into an array of ordinary strides: the flipped view it replaced
            # made each later pass over the gradient 3x slower (1.8 ms for an add of 10^6)
            out = xp.empty(x.shape, x.dtype)
            xp.cumsum(xp.flip(x, self.axis), axis=self.axis, out=xp.flip(out, self.axis))
            return out
        return xp.flip(xp.cumsum(xp.flip(x, self.axis), axis=self.axis), self.axis)

    def vjp(self, m, g, x, y):
        return (m.apply(CumSum(self.axis, not self.reverse), g),)

    def jvp(self, t, x, y):
        return self.forward(t)


def _others_product(x, axis: int):
    """For each element, the product of the other elements along ``axis``: exact with zeros
    (the products of everything before and after it, multiplied)."""
    ones = xp.ones_like(xp.take(x, [0], axis=axis))
    before = xp.cumprod(xp.concatenate([ones, xp.take(x, range(x.shape[axis] - 1), axis=axis)],
                                       axis=axis), axis=axis)  # fmt: skip
    flipped = xp.flip(x, axis)
    after = xp.cumprod(
        xp.concatenate([ones, xp.take(flipped, range(x.shape[axis] - 1), axis=axis)], axis=axis),
        axis=axis,
    )
    return before * xp.flip(after, axis)


def _no_zeros_for_create_graph(m, x, name: str) -> None:
    if m is not ArrayMath and bool((x._data if hasattr(x, "_data") else x).__eq__(0).any()):
        raise NotImplementedError(
            f"{name}: gradients of gradients at an input that holds a zero are not supported "
            "(the first gradient is; only create_graph=True is refused)"
        )


class Prod(_Reduce):
    """The product over axes. Its gradient is the product of the other elements, g·y/x where
    no element is zero and computed exactly (before × after) where one is."""

    name = "prod"

    def forward(self, x):
        self.axes = normalize_axes(self.axis, x.ndim)
        return xp.prod(x, axis=self.axes, keepdims=self.keepdims)

    def vjp(self, m, g, x, y):
        g = self._expand(g, x)
        yk = y if self.keepdims else y.reshape(keepdims_shape(x.shape, self.axes))
        if m is ArrayMath and (x == 0).any():
            flat = xp.moveaxis(x, self.axes, range(len(self.axes)))
            lead = flat.shape[: len(self.axes)]
            flat = flat.reshape((-1,) + flat.shape[len(self.axes) :])
            others = _others_product(flat, 0).reshape(lead + flat.shape[1:])
            others = xp.moveaxis(others, range(len(self.axes)), self.axes)
            return (g * others,)
        _no_zeros_for_create_graph(m, x, "prod")
        return (g * yk / x,)

    def jvp(self, t, x, y):
        return (
            self.vjp(ArrayMath, xp.ones_like(y), x, y)[0]
            .__mul__(t)
            .sum(axis=self.axes, keepdims=self.keepdims)
        )


class CumProd(Op):
    """Running products along ``axis``. The gradient at element i is Σ_{j ≥ i} g_j·∂y_j/∂x_i:
    (reverse running sum of g·y)/x without zeros, computed exactly where there are zeros."""

    name = "cumprod"

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        return xp.cumprod(x, axis=self.axis)

    def vjp(self, m, g, x, y):
        if m is ArrayMath and (x == 0).any():
            return (self._exact(g, x),)
        _no_zeros_for_create_graph(m, x, "cumprod")
        return (m.apply(CumSum(self.axis, reverse=True), g * y) / x,)

    def _exact(self, g, x):
        """Σ_{j ≥ i} g_j · Π_{k ≤ j, k ≠ i} x_k along each line, split at its first zero z:
        before z the usual (reverse running sum of g y) / x (y is 0 from z on); at z,
        y_{z-1} Σ_{j ≥ z} g_j Π_{z < k ≤ j} x_k; after z, 0 (every product holds x_z = 0).
        A few passes over the array, where one i at a time was O(n²) (33x PyTorch's time)."""
        xa, ga = xp.moveaxis(x, self.axis, -1), xp.moveaxis(g, self.axis, -1)
        n = xa.shape[-1]
        zero = xa == 0
        z = xp.where(zero.any(axis=-1), zero.argmax(axis=-1), n)[..., None]
        pos = xp.arange(n)
        before = pos < z
        y = xp.cumprod(xa, axis=-1)
        tail = xp.flip(xp.cumsum(xp.flip(ga * y, -1), axis=-1), -1)
        out = xp.where(before, tail / xp.where(before, xa, 1), 0)
        run = xp.cumprod(xp.where(pos > z, xa, 1), axis=-1)  # Π_{z < k ≤ j} x_k
        at_z = xp.where(before, 0, ga * run).sum(axis=-1, keepdims=True)
        prev = xp.take_along_axis(y, xp.maximum(z - 1, 0) % n, axis=-1)
        at_z = at_z * xp.where(z == 0, 1, prev)  # y_{z-1}, or 1 when the zero comes first
        out = xp.where(pos == z, at_z, out)
        return xp.moveaxis(out, -1, self.axis)

    def jvp(self, t, x, y):
        # y_j = Π x_k, so dy_j = Σ_{i ≤ j} (∂y_j/∂x_i) t_i; without zeros that is y_j·Σ t_i/x_i.
        if (x == 0).any():
            xa, ta = xp.moveaxis(x, self.axis, 0), xp.moveaxis(t, self.axis, 0)
            out = xp.zeros_like(xa)
            for i in range(xa.shape[0]):
                masked = xa.copy()
                masked[i] = ta[i]
                out[i:] += xp.cumprod(masked, axis=0)[i:]
            return xp.moveaxis(out, 0, self.axis)
        return y * xp.cumsum(t / x, axis=self.axis)
