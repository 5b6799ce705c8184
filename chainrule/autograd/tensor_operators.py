"""Tensor's operators (``+ - * / ** @``, comparisons, logic), indexing (``t[i]``, ``t[i] = v``)
and in-place methods (``add_``, ``+=``, ...); bases of ``Tensor``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd import inplace as _inplace
from chainrule.autograd import (
    linalg,
    make,  # make.Tensor: the class, read at call time (see make.py)
    pointwise,
)
from chainrule.autograd.make import apply, constant, recomputed, unwrap
from chainrule.autograd.promotion import _check_sub, _lift, _pair, matmul_operands
from chainrule.backend import xp
from chainrule.ops.divmod import floor_divide

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.autograd.reductions import _axis, _keep
from chainrule.autograd.views import mark_view

_ADD, _SUB, _MUL, _DIV = ops.Add, ops.Sub, ops.Mul, ops.Div


class OperatorMethods:
    """A base of ``Tensor``: its operators, indexing and in-place methods."""

    __slots__ = ()  # Tensor's instances keep its __slots__ only (no __dict__)

    # ----- arithmetic -----
    def __add__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_ADD(), self, o)
        return apply(_ADD(), *_pair(self, o))

    def __radd__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_ADD(), o, self)
        return apply(_ADD(), *_pair(o, self))

    def __sub__(self, other):
        _check_sub(self, other)
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_SUB(), self, o)
        return apply(_SUB(), *_pair(self, o))

    def __rsub__(self, other):
        _check_sub(self, other)
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_SUB(), o, self)
        return apply(_SUB(), *_pair(o, self))

    def __mul__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_MUL(), self, o)
        return apply(_MUL(), *_pair(self, o))

    def __rmul__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_MUL(), o, self)
        return apply(_MUL(), *_pair(o, self))

    def __truediv__(self, other):
        return apply(_DIV(), *_pair(self, _lift(other, self), true_div=True))

    def __rtruediv__(self, other):
        return apply(_DIV(), *_pair(_lift(other, self), self, true_div=True))

    __pow__ = pointwise.pow

    def __rpow__(self, other):
        return apply(ops.Pow(), *_pair(_lift(other, self), self))

    __matmul__ = linalg.matmul

    def __rmatmul__(self, other):
        return apply(ops.MatMul(), *matmul_operands(_lift(other, self), self))

    def __floordiv__(self, other):
        """floor(self / other), PyTorch's ``//``: a step function, so no gradient flows."""
        a, b = _pair(self, _lift(other, self))
        return recomputed(floor_divide, a, b)

    def __rfloordiv__(self, other):
        a, b = _pair(_lift(other, self), self)
        return recomputed(floor_divide, a, b)

    def __mod__(self, other):
        """The remainder with the divisor's sign (``torch.remainder``), as self - floor(self/other)
        · other, so its gradient is 1 for self and -floor(self/other) for other."""
        a, b = _pair(self, _lift(other, self))
        return a - recomputed(floor_divide, a, b) * b

    def __rmod__(self, other):
        a, b = _pair(_lift(other, self), self)
        return a - recomputed(floor_divide, a, b) * b

    __neg__ = pointwise.neg

    def __pos__(self):
        return self

    __abs__ = pointwise.abs

    # Comparisons and logic give boolean tensors outside the graph (they have no gradient).
    __eq__ = pointwise.eq  # type: ignore[assignment]
    __ne__ = pointwise.ne  # type: ignore[assignment]
    __lt__ = pointwise.lt
    __le__ = pointwise.le
    __gt__ = pointwise.gt
    __ge__ = pointwise.ge

    def __and__(self, other):
        return recomputed(xp.bitwise_and, self, unwrap(other))

    def __or__(self, other):
        return recomputed(xp.bitwise_or, self, unwrap(other))

    def __invert__(self):
        return recomputed(xp.invert, self)

    def any(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Whether any element (along ``dim`` when given) is nonzero; a bool tensor."""
        return recomputed(
            xp.any, self, axis=_axis(axis, dim), keepdims=bool(_keep(keepdims, keepdim))
        )

    def all(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Whether every element (along ``dim`` when given) is nonzero; a bool tensor."""
        return recomputed(
            xp.all, self, axis=_axis(axis, dim), keepdims=bool(_keep(keepdims, keepdim))
        )

    def __getitem__(self, index):
        index = _raw_index(index)
        op = ops.GetItem(index)
        out = apply(op, self)
        return mark_view(out, self, op) if _basic(index) else out

    def __setitem__(self, index, value):
        """``t[index] = value`` in place, recorded so gradients reach ``value`` and the rest of t
        (basic, integer-array and boolean indices; ``value`` broadcasts to the indexed shape)."""
        _inplace.modify(self, "setitem", ops.SetItem(_raw_index(index)), _value(value, self))

    # ----- in place (PyTorch's ``op_`` methods; each returns the tensor itself) -----
    def add_(self, other, *legacy, alpha=1):
        """``self += alpha * other``; also PyTorch's deprecated ``add_(alpha, other)``."""
        other, alpha = pointwise.legacy_alpha("add_", other, legacy, alpha)
        other = _lift(other, self)
        return _inplace.modify(self, "add_", _ADD(), other if alpha == 1 else other * alpha)

    def sub_(self, other, *legacy, alpha=1):
        """``self -= alpha * other``; also PyTorch's deprecated ``sub_(alpha, other)``."""
        other, alpha = pointwise.legacy_alpha("sub_", other, legacy, alpha)
        other = _lift(other, self)
        return _inplace.modify(self, "sub_", _SUB(), other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return _inplace.modify(self, "mul_", _MUL(), _lift(other, self))

    def div_(self, other):
        return _inplace.modify(self, "div_", _DIV(), _lift(other, self))

    def pow_(self, exponent):
        if isinstance(exponent, (int, float)):
            return _inplace.modify(self, "pow_", ops.PowScalar(exponent))
        return _inplace.modify(self, "pow_", ops.Pow(), _lift(exponent, self))

    def clamp_(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        return _inplace.modify(self, "clamp_", ops.Clip(unwrap(min), unwrap(max)))

    clip_ = clamp_

    def neg_(self):
        return _inplace.modify(self, "neg_", ops.Neg())

    def exp_(self):
        return _inplace.modify(self, "exp_", ops.Exp())

    def log_(self):
        return _inplace.modify(self, "log_", ops.Log())

    def sqrt_(self):
        return _inplace.modify(self, "sqrt_", ops.Sqrt())

    def abs_(self):
        return _inplace.modify(self, "abs_", ops.Abs())

    def tanh_(self):
        return _inplace.modify(self, "tanh_", ops.Tanh())

    def sigmoid_(self):
        return _inplace.modify(self, "sigmoid_", ops.Sigmoid())

    def relu_(self):
        return _inplace.modify(self, "relu_", ops.Relu())

    def copy_(self, src, non_blocking: bool = False):
        """Writes ``src`` (broadcast to this shape) into this tensor; the gradient goes to src."""
        return _inplace.modify(self, "copy_", ops.SetItem(Ellipsis), _value(src, self))

    def fill_(self, value):
        return _inplace.modify(self, "fill_", ops.SetItem(Ellipsis), _value(value, self))

    def zero_(self):
        return self.fill_(0)

    def masked_fill_(self, mask, value):
        """Writes ``value`` where ``mask`` (broadcast to this shape) is True."""
        keep = ~xp.asarray(unwrap(mask), dtype=bool)
        return _inplace.modify(self, "masked_fill_", ops.Where(keep), _value(value, self))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """Fills this tensor with draws from N(mean, std²) (no gradient)."""
        from chainrule.random import normal_array

        _inplace.write_no_grad(
            self, "normal_", lambda a: xp.copyto(a, normal_array(mean, std, a.shape, generator))
        )
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        """Fills this tensor with draws from U(a, b) (no gradient)."""
        from chainrule.random import uniform_array

        _inplace.write_no_grad(
            self, "uniform_", lambda x: xp.copyto(x, uniform_array(a, b, x.shape, generator))
        )
        return self

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (PyTorch's ``_version``)."""
        return _inplace.version(self)


def _basic(index) -> bool:
    """Whether ``x[index]`` is a view (ints, slices, None, ...) rather than a gather (arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (xp.ndarray, list, tuple)) for i in items)


def _value(x, like: Tensor) -> Tensor:
    """A value to write into ``like``: a Tensor as it is, anything else in ``like``'s dtype."""
    if isinstance(x, make.Tensor):
        return x
    return constant(xp.asarray(x, dtype=like._data.dtype))


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, make.Tensor):
        index = index._data
    if isinstance(index, list):
        index = xp.asarray(index)
    if isinstance(index, xp.ndarray) and index.dtype == xp.bool_:
        return xp.nonzero(index) if index.ndim > 1 else xp.nonzero(index)[0]
    return index
