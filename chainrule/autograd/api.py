"""The top-level functions under PyTorch's signatures: ``cr.sum(input, dim, keepdim)``,
``cr.matmul(input, other)``, ``cr.softmax(input, dim)`` ... so that ``torch.f(...)`` calls run
unchanged with ``import chainrule as torch``, keywords included. NumPy's ``axis=``/``keepdims=``
are accepted as the same arguments, as the Tensor methods accept them.

Each is one line onto ``tensor_math`` (the ops with their gradients); nothing is computed here.
"""

from __future__ import annotations

from chainrule import backend as _backend
from chainrule import ops as _ops
from chainrule.autograd import autocast as _autocast
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.promotion import _pair, matmul_operands
from chainrule.autograd.tensor import Tensor
from chainrule.autograd.tensor import apply as _apply
from chainrule.autograd.tensor_math_methods import _axis, _keep
from chainrule.errors import user_line


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def sum(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """The sum over ``dim`` (all dimensions when None); ``dtype`` converts first."""
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return _fn.sum(x, _axis(axis, dim), _keep(keepdim, keepdims))


def mean(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """The mean over ``dim`` (all dimensions when None); ``dtype`` converts first."""
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return _fn.mean(x, _axis(axis, dim), _keep(keepdim, keepdims))


def argmax(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Indices (int64) of the largest values along ``dim`` (of the flattened input when None)."""
    return _fn.argmax(_t(input), _axis(axis, dim), _keep(keepdim, keepdims))


def argmin(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Indices (int64) of the smallest values along ``dim`` (of the flattened input when None)."""
    return _fn.argmin(_t(input), _axis(axis, dim), _keep(keepdim, keepdims))


def logsumexp(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log Σ exp(input) over ``dim``, without overflow."""
    return _fn.logsumexp(_t(input), _axis(axis, dim), _keep(keepdim, keepdims))


def _softmax_dim(name: str, dim, axis) -> int:
    d = _axis(axis, dim)
    if d is None:  # torch.softmax has no default dim: guessing one would silently differ
        raise TypeError(f"{name}() missing required argument 'dim' (the dimension to normalise)")
    return d


def softmax(input, dim=None, dtype=None, *, axis=None) -> Tensor:
    """exp(input) normalised to sum to 1 along ``dim`` (required, as in ``torch.softmax``)."""
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return _fn.softmax(x, _softmax_dim("softmax", dim, axis))


def log_softmax(input, dim=None, dtype=None, *, axis=None) -> Tensor:
    """log(softmax(input, dim)), computed stably; ``dim`` is required as in PyTorch."""
    x = _t(input) if dtype is None else _t(input).astype(dtype)
    return _fn.log_softmax(x, _softmax_dim("log_softmax", dim, axis))


def squeeze(input, dim=None, *, axis=None) -> Tensor:
    """``input`` without its size-1 dimensions (only ``dim`` when given): a view."""
    return _t(input).squeeze(_axis(axis, dim))


def unsqueeze(input, dim=None, *, axis=None) -> Tensor:
    """``input`` with a size-1 dimension inserted at ``dim``: a view."""
    return _t(input).unsqueeze(_axis(axis, dim))


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``input`` with dimensions ``start_dim``..``end_dim`` merged into one."""
    return _fn.flatten(_t(input), start_dim, end_dim)


def matmul(input, other) -> Tensor:
    """The matrix product, broadcast over leading dimensions as ``torch.matmul``; both operands
    of one dtype, as PyTorch requires."""
    return _apply(_ops.MatMul(), *matmul_operands(input, other))


def dot(input, other) -> Tensor:
    """The inner product of two 1-D tensors of one size and dtype, Σᵢ aᵢ bᵢ: a 0-d tensor
    (``torch.dot``; PyTorch's RuntimeErrors for other ranks or sizes)."""
    a, b = _t(input), _t(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors (dot of shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)})\n  at {user_line()}"
        )
    if a.shape[0] != b.shape[0]:
        n, m = a.shape[0], b.shape[0]
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the same "
            f"number of elements, but got {n} and {m} elements respectively\n  at {user_line()}"
        )
    return _apply(_ops.MatMul(), *matmul_operands(a, b))


def mm(input, other) -> Tensor:
    """The product of two matrices, (n, m) @ (m, p) -> (n, p)."""
    return _t(input).mm(other)


def bmm(input, other) -> Tensor:
    """Batched matrix product, (b, n, m) @ (b, m, p) -> (b, n, p)."""
    return _t(input).bmm(other)


def add(input, other, *legacy, alpha=1) -> Tensor:
    """``input + alpha * other``, broadcast (also the deprecated ``add(input, alpha, other)``)."""
    return _t(input).add(other, *legacy, alpha=alpha)


def sub(input, other, *legacy, alpha=1) -> Tensor:
    """``input - alpha * other``, broadcast (also the deprecated ``sub(input, alpha, other)``)."""
    return _t(input).sub(other, *legacy, alpha=alpha)


def mul(input, other) -> Tensor:
    """``input * other``, broadcast."""
    return _fn.mul(input, other)


def div(input, other, *, rounding_mode=None) -> Tensor:
    """``input / other``, broadcast; ``rounding_mode`` "floor" or "trunc" rounds the quotient."""
    return _t(input).div(other, rounding_mode=rounding_mode)


def pow(input, exponent) -> Tensor:
    """``input ** exponent``; a number as ``input`` raises it to a tensor's powers."""
    if isinstance(input, Tensor):
        return input**exponent
    return _t(exponent).__rpow__(input)


def neg(input) -> Tensor:
    return -_t(input)


def square(input) -> Tensor:
    return _t(input).square()


def clone(input) -> Tensor:
    """A copy in new storage that stays in the graph."""
    return _t(input).clone()


def numel(input) -> int:
    """The number of elements."""
    return _t(input).numel()


def eq(input, other) -> Tensor:
    return _t(input) == other


def ne(input, other) -> Tensor:
    return _t(input) != other


def lt(input, other) -> Tensor:
    return _t(input) < other


def le(input, other) -> Tensor:
    return _t(input) <= other


def gt(input, other) -> Tensor:
    return _t(input) > other


def ge(input, other) -> Tensor:
    return _t(input) >= other


def logical_and(input, other) -> Tensor:
    """Elementwise ``input and other`` on truth values (nonzero is true): a bool tensor."""
    return _t(input).logical_and(other)


def logical_or(input, other) -> Tensor:
    """Elementwise ``input or other`` on truth values: a bool tensor."""
    return _t(input).logical_or(other)


def logical_xor(input, other) -> Tensor:
    """Elementwise exclusive or of truth values: a bool tensor."""
    return _t(input).logical_xor(other)


def logical_not(input) -> Tensor:
    """Elementwise ``not input`` on truth values (nonzero is true): a bool tensor."""
    return _t(input).logical_not()


def _method(name: str, doc: str):
    def f(input, *args, **kwargs):
        return getattr(_t(input), name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


# The functions whose method form is the definition (``torch.cumsum(x, 1)`` is ``x.cumsum(1)``).
cumsum = _method("cumsum", "Running sums along ``dim``.")
cumprod = _method("cumprod", "Running products along ``dim``.")
prod = _method("prod", "The product over ``dim`` (all entries when None).")
norm = _method("norm", "The vector p-norm over ``dim`` (all entries when None).")
flip = _method("flip", "The entries reversed along ``dims`` (a copy).")
roll = _method("roll", "Entries shifted along ``dims``, wrapping around.")
gather = _method("gather", "Entries at ``index`` along ``dim`` (``torch.gather``).")
scatter = _method("scatter", "A copy with ``src`` written at ``index`` along ``dim``.")
scatter_add = _method("scatter_add", "A copy with ``src`` added at ``index`` along ``dim``.")
index_select = _method("index_select", "Entries at a 1-D ``index`` along ``dim``.")
masked_fill = _method("masked_fill", "``value`` where ``mask`` holds.")
masked_select = _method("masked_select", "The entries where ``mask`` holds, 1-D.")
tril = _method("tril", "The lower triangle of the last two dimensions.")
triu = _method("triu", "The upper triangle of the last two dimensions.")
split = _method("split", "Pieces along ``dim`` of a size, or of listed sizes (views).")
chunk = _method("chunk", "At most ``chunks`` pieces along ``dim`` (views).")
unbind = _method("unbind", "The slices along ``dim`` (views).")
narrow = _method("narrow", "A slice of ``length`` from ``start`` along ``dim`` (a view).")
tan = _method("tan", "tan elementwise.")
floor = _method("floor", "floor elementwise (gradient 0).")
ceil = _method("ceil", "ceil elementwise (gradient 0).")
round = _method("round", "Round half to even elementwise (gradient 0).")
trunc = _method("trunc", "Truncation toward 0 elementwise (gradient 0).")
sign = _method("sign", "The sign elementwise (gradient 0).")
lerp = _method("lerp", "input + weight · (end − input).")


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over the operands' subscripts (``torch.einsum``): ``"ij,jk->ik"`` is
    a matrix product, ``"bij->bji"`` a transpose, ``"ii"`` a trace; ``...`` stands for the
    leading dimensions, and without ``->`` the output has the letters used once, in order.
    The operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_t(x) for x in operands]
    if _backend.autocast_dtype is not None:  # PyTorch's einsum runs as bmm: lower precision
        xs = list(_autocast.lower(*xs))
    for k in range(1, len(xs)):  # one dtype for all, by PyTorch's promotion
        xs[0], xs[k] = _pair(xs[0], xs[k])
    xs = [x.astype(xs[0].dtype) for x in xs]
    subs, out = _ops.einsum.parse(equation, [x.ndim for x in xs])
    return _apply(_ops.Einsum(subs, out), *xs)
