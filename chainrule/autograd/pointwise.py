"""The elementwise functions (``cr.exp``, ``cr.add``, ``cr.where``, ``cr.eq``, ...), each the one
definition its method (``x.exp()``), ``cr.X`` and ``F.X`` reach. Arithmetic broadcasts and
promotes dtypes as PyTorch; comparisons, logic and the piecewise-constant functions have no
gradient (the latter a zero one, as PyTorch's)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from chainrule import ops
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.make import apply, constant, recomputed, unwrap
from chainrule.autograd.promotion import _as_np_tensor, _check_sub, _lift, _pair
from chainrule.backend import get_default_dtype, kind, xp
from chainrule.errors import warn_user
from chainrule.ops.divmod import floor_divide

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


# ----- arithmetic -----
def add(input, other, *legacy, alpha=1) -> Tensor:
    """``input + alpha * other``, broadcast (also the deprecated ``add(input, alpha, other)``)."""
    other, alpha = legacy_alpha("add", other, legacy, alpha)
    a = _as_np_tensor(input)
    if alpha != 1:
        other = alpha * other
    return apply(ops.Add(), *_pair(a, _lift(other, a)))


def sub(input, other, *legacy, alpha=1) -> Tensor:
    """``input - alpha * other``, broadcast (also the deprecated ``sub(input, alpha, other)``)."""
    other, alpha = legacy_alpha("sub", other, legacy, alpha)
    a = _as_np_tensor(input)
    if alpha != 1:
        other = alpha * other
    _check_sub(a, other)
    return apply(ops.Sub(), *_pair(a, _lift(other, a)))


def mul(input, other) -> Tensor:
    """``input * other``, broadcast."""
    a = _as_np_tensor(input)
    return apply(ops.Mul(), *_pair(a, _lift(other, a)))


def div(input, other, *, rounding_mode=None) -> Tensor:
    """``input / other``, broadcast (integers give the default float dtype); ``rounding_mode``
    "floor" or "trunc" rounds the quotient (no gradient then)."""
    a = _as_np_tensor(input)
    if rounding_mode is None:
        return apply(ops.Div(), *_pair(a, _lift(other, a), true_div=True))
    if rounding_mode == "floor":
        return recomputed(floor_divide, *_pair(a, _lift(other, a)))
    if rounding_mode == "trunc":
        return recomputed(_trunc_div, a, unwrap(other))
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


def _trunc_div(a, b):
    return xp.trunc(a / b).astype(xp.result_type(a, b))


def pow(input, exponent) -> Tensor:
    """``input ** exponent``; a number as ``input`` raises it to a tensor's powers. A float
    power of an integer tensor is taken in the default float dtype, as PyTorch."""
    if not isinstance(input, make.Tensor):
        e = _as_np_tensor(exponent)
        return apply(ops.Pow(), *_pair(_lift(input, e), e))
    if isinstance(exponent, (int, float)):
        if isinstance(exponent, float) and kind(input._data.dtype) not in "fc":
            return apply(ops.PowScalar(exponent), input.astype(get_default_dtype()))
        return apply(ops.PowScalar(exponent), input)
    return apply(ops.Pow(), *_pair(input, _lift(exponent, input)))


def neg(input) -> Tensor:
    """``-input``."""
    return apply(ops.Neg(), _as_np_tensor(input))


def square(input) -> Tensor:
    """``input * input``."""
    x = _as_np_tensor(input)
    return x * x


def clone(input) -> Tensor:
    """A copy in new storage that stays in the graph (gradients flow back to ``input``)."""
    return apply(ops.Clone(), _as_np_tensor(input))


def lerp(input, end, weight) -> Tensor:
    """input + weight · (end − input)."""
    x = _as_np_tensor(input)
    return x + weight * (end - x)


# ----- functions of one value -----
def exp(input) -> Tensor:
    """e^x elementwise. d/dx = e^x (the output is reused in the backward pass)."""
    return apply(ops.Exp(), _as_np_tensor(input))


def log(input) -> Tensor:
    """Natural logarithm elementwise. d/dx = 1/x."""
    return apply(ops.Log(), _as_np_tensor(input))


def sqrt(input) -> Tensor:
    """√x elementwise. d/dx = 1 / (2√x)."""
    return apply(ops.Sqrt(), _as_np_tensor(input))


def abs(input) -> Tensor:
    """|x| elementwise. d/dx = sign(x), 0 at 0."""
    return apply(ops.Abs(), _as_np_tensor(input))


def sin(input) -> Tensor:
    """sin x elementwise (x in radians). d/dx = cos x."""
    return apply(ops.Sin(), _as_np_tensor(input))


def cos(input) -> Tensor:
    """cos x elementwise (x in radians). d/dx = −sin x."""
    return apply(ops.Cos(), _as_np_tensor(input))


def tan(input) -> Tensor:
    """tan x elementwise. d/dx = 1 + tan² x (as sin/cos for 0-d or non-float input)."""
    x = _as_np_tensor(input)
    if x._data.dtype.kind == "f" and x._data.ndim:
        return apply(ops.elementwise.Tan(), x)
    return sin(x) / cos(x)


def tanh(input) -> Tensor:
    """tanh x elementwise. d/dx = 1 - tanh² x."""
    return apply(ops.Tanh(), _as_np_tensor(input))


def sigmoid(input) -> Tensor:
    """σ(x) = 1 / (1 + e^-x) elementwise, without overflow for large |x|. σ' = σ (1 - σ)."""
    return apply(ops.Sigmoid(), _as_np_tensor(input))


def relu(input) -> Tensor:
    """max(x, 0) elementwise. d/dx = 1 where x > 0, else 0."""
    return apply(ops.Relu(), _as_np_tensor(input))


def clamp(input, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None). The gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return apply(ops.Clip(unwrap(min), unwrap(max)), _as_np_tensor(input))


clip = clamp  # NumPy's name


def maximum(input, other) -> Tensor:
    """Elementwise max(a, b); at ties the gradient is split equally."""
    a = _as_np_tensor(input)
    return apply(ops.Maximum(), *_pair(a, _lift(other, a)))


def minimum(input, other) -> Tensor:
    """Elementwise min(a, b); at ties the gradient is split equally."""
    a = _as_np_tensor(input)
    return apply(ops.Minimum(), *_pair(a, _lift(other, a)))


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (broadcasting all three).
    ``condition`` gets no gradient."""
    cond = xp.asarray(unwrap(condition), dtype=bool)
    a, b = input, other
    if isinstance(a, make.Tensor):
        b = _lift(b, a)
    elif isinstance(b, make.Tensor):
        a = _lift(a, b)
    else:
        a = constant(xp.asarray(a, dtype=get_default_dtype()))
        b = _lift(b, a)
    return apply(ops.Where(cond), *_pair(a, b))


# ----- piecewise constant: gradient 0 (not "none"), as PyTorch's -----
def _stepwise(input, fn) -> Tensor:
    x = _as_np_tensor(input)
    if x._data.dtype.kind in "biu":
        return recomputed(fn, x)
    return apply(ops.Stepwise(fn.__name__ if hasattr(fn, "__name__") else "step", fn), x)


def floor(input) -> Tensor:
    """floor elementwise (gradient 0)."""
    return _stepwise(input, xp.floor)


def ceil(input) -> Tensor:
    """ceil elementwise (gradient 0)."""
    return _stepwise(input, xp.ceil)


def round(input, *, decimals: int = 0) -> Tensor:
    """Round half to even elementwise, as PyTorch (and NumPy) (gradient 0)."""
    return _stepwise(input, functools.partial(xp.round, decimals=decimals))


def trunc(input) -> Tensor:
    """Truncation toward 0 elementwise (gradient 0)."""
    return _stepwise(input, xp.trunc)


def sign(input) -> Tensor:
    """-1, 0 or 1 elementwise (gradient 0)."""
    return _stepwise(input, xp.sign)


# ----- comparisons and logic: bool tensors outside the graph -----
def eq(input, other) -> Tensor:
    """``input == other`` elementwise."""
    return recomputed(xp.equal, input, unwrap(other))


def ne(input, other) -> Tensor:
    """``input != other`` elementwise."""
    return recomputed(xp.not_equal, input, unwrap(other))


def lt(input, other) -> Tensor:
    """``input < other`` elementwise."""
    return recomputed(xp.less, input, unwrap(other))


def le(input, other) -> Tensor:
    """``input <= other`` elementwise."""
    return recomputed(xp.less_equal, input, unwrap(other))


def gt(input, other) -> Tensor:
    """``input > other`` elementwise."""
    return recomputed(xp.greater, input, unwrap(other))


def ge(input, other) -> Tensor:
    """``input >= other`` elementwise."""
    return recomputed(xp.greater_equal, input, unwrap(other))


def logical_and(input, other) -> Tensor:
    """Elementwise ``input and other`` on truth values (nonzero is true): a bool tensor."""
    return recomputed(xp.logical_and, input, unwrap(other))


def logical_or(input, other) -> Tensor:
    """Elementwise ``input or other`` on truth values: a bool tensor."""
    return recomputed(xp.logical_or, input, unwrap(other))


def logical_xor(input, other) -> Tensor:
    """Elementwise exclusive or of truth values: a bool tensor."""
    return recomputed(xp.logical_xor, input, unwrap(other))


def logical_not(input) -> Tensor:
    """Elementwise ``not input`` on truth values (nonzero is true): a bool tensor."""
    return recomputed(xp.logical_not, input)


def _close(a, b, rtol: float, atol: float, equal_nan: bool):
    """PyTorch's closeness on arrays of one dtype: a == b, or |a - b| finite and at most
    atol + |rtol · b| (integers compared in the default float dtype)."""
    close = xp.equal(a, b)
    if equal_nan and kind(a.dtype) in "fc":
        close |= xp.isnan(a) & xp.isnan(b)
    if rtol == 0 and atol == 0:
        return close
    if kind(a.dtype) not in "fc":  # integers and bools
        a, b = a.astype(get_default_dtype()), b.astype(get_default_dtype())
    # inf - inf is nan, and +inf against -inf is inf: neither is close (only equal infinities).
    with xp.errstate(invalid="ignore", over="ignore"):
        error = xp.abs(a - b)
        close |= xp.isfinite(error) & (error <= atol + xp.abs(rtol * b))
    return close


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """Elementwise |input - other| <= atol + rtol · |other| (or equal), as ``torch.isclose``:
    a bool tensor of the broadcast shape. Both must have one dtype; NaN is close to NaN only
    with ``equal_nan``."""
    a, b = (x._data if isinstance(x, make.Tensor) else xp.asarray(x) for x in (input, other))
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"isclose: input and other must have the same dtype, got {a.dtype} and {b.dtype}"
        )
    if rtol < 0 or atol < 0:
        bad = "rtol" if rtol < 0 else "atol"
        raise RuntimeError(f"isclose: {bad} must be at least 0, got {rtol if rtol < 0 else atol}")
    return recomputed(_close, input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(
    input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether ``isclose(input, other, ...)`` holds everywhere (a Python bool), as
    ``torch.allclose``."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other) -> bool:
    """Whether both have the same shape and the same values (NaN equals nothing), as
    ``torch.equal``: a Python bool; dtypes may differ."""
    a, b = (x._data if isinstance(x, make.Tensor) else xp.asarray(x) for x in (input, other))
    return a.shape == b.shape and bool(xp.array_equal(a, b))


def legacy_alpha(name: str, other, legacy: tuple, alpha):
    """``(other, alpha)`` of ``add``/``sub`` and their in-place forms, accepting PyTorch's
    deprecated ``name(Number alpha, Tensor other)`` overload with PyTorch's UserWarning."""
    if not legacy:
        return other, alpha
    number = isinstance(other, (int, float)) or (isinstance(other, make.Tensor) and other.ndim == 0)
    if len(legacy) > 1 or not number or alpha != 1:
        raise TypeError(
            f"{name}() takes 1 positional argument but {1 + len(legacy)} were given (alpha is a "
            f"keyword: {name}(other, alpha=...))"
        )
    warn_user(
        f"This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor other)\n"
        f"Consider using one of the following signatures instead:\n"
        f"\t{name}(Tensor other, *, Number alpha = 1)"
    )
    return legacy[0], other
