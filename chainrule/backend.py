"""Which array module runs the numbers, the dtype policy, and the array math of VJP rules.

What is here: ``xp``, the array module (NumPy; the only one today); the dtypes and the default
float dtype that Python floats become (``set_default_dtype``); ``sum_to``, the one place that
undoes broadcasting; and ``ArrayMath``, the vocabulary VJP rules are written in on raw arrays
(``autograd.tensor_math`` offers the same names on Tensors, for ``create_graph=True``).

Who calls ``xp``: every package above ``ops/`` reaches the array module only as ``xp`` from
here (``tests/project/test_layering.py`` keeps it so); the primitive ops in ``ops/`` and this
module may also name ``numpy`` (``errstate``, ``special``'s erf written on ``numpy`` alone). A
second array module (CuPy on a GPU) would be a new entry here and a pass over ``ops/``.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

xp = np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
float16 = np.dtype(np.float16)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
# bfloat16 has no NumPy type of its own: ml_dtypes (the library JAX uses) provides it, with
# ufuncs that compute in float32 and round each result to bfloat16, as PyTorch's CPU kernels do.
# NumPy files it under kind "V"; ``kind`` below says "f" for it.
bfloat16 = np.dtype(ml_dtypes.bfloat16)


def bfloat16_dtype() -> np.dtype:
    """The NumPy dtype that holds ``cr.bfloat16`` tensors (ml_dtypes' bfloat16): what a reader
    of PyTorch's ``BFloat16Storage`` gives its array."""
    return bfloat16


def kind(dtype: np.dtype) -> str:
    """``dtype.kind``, except that bfloat16 (kind "V" to NumPy) is a float, "f", as PyTorch
    treats it: promotion, ``requires_grad`` and differentiable casts ask this."""
    k = dtype.kind
    return "f" if k == "V" and dtype == bfloat16 else k  # the common case: one attribute read


_default_dtype = float32

# The lower-precision dtype of an enabled CPU autocast (``chainrule.amp.autocast``), None
# while it is off: read by the ops of autocast's lists (``chainrule.autograd.autocast``).
autocast_dtype: np.dtype | None = None


class finfo:
    """The limits of a floating dtype (the default dtype when None), as ``torch.finfo``, in
    Python numbers: ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``),
    ``resolution`` (10 ** -decimal digits), ``dtype`` (its name)."""

    def __init__(self, dtype=None) -> None:
        dtype = _default_dtype if dtype is None else np.dtype(dtype)
        if kind(dtype) != "f":
            raise TypeError(f"finfo: expected a floating dtype, got {dtype}")
        info = ml_dtypes.finfo(dtype) if dtype == bfloat16 else np.finfo(dtype)
        self.bits, self.dtype = int(info.bits), str(dtype)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, dtype={self.dtype})"
        )


def iinfo(dtype):
    """The limits of an integer dtype, as ``torch.iinfo``: ``min``, ``max``, ``bits``."""
    return np.iinfo(np.dtype(dtype))


def matmul(a, b):
    """``a @ b``; for two bfloat16 operands the result is rounded to bfloat16, as PyTorch's
    bfloat16 GEMM returns (ml_dtypes' matmul accumulates in float32 and returns float32)."""
    y = np.matmul(a, b)
    if y.dtype != a.dtype and a.dtype == bfloat16 and b.dtype == bfloat16:
        return y.astype(bfloat16)
    return y


def set_default_dtype(dtype) -> None:
    """Sets the dtype that Python floats become (and that modules create parameters in)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if kind(dtype) != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The dtype that Python floats become: float32 unless ``set_default_dtype`` said otherwise."""
    return _default_dtype


def sum_to(x, shape: tuple[int, ...]):
    """Sums ``x`` down to ``shape``, undoing NumPy broadcasting.

    Broadcasting adds leading axes and stretches size-1 axes; the gradient of a broadcast sums over
    exactly those axes. This is the one place where that is done, for every op.
    """
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1
    )
    y = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        y = y.reshape(shape)
    return y


# At most this many elements, a single value spread by ``ArrayMath.broadcast_to`` is a new array.
_SMALL_FILL = 4096


def broadcast_to(x, shape: tuple[int, ...]):
    """``np.broadcast_to(x, shape)``, the same values; a single value spread over a small
    shape (the gradient of a loss's ``sum()``: a few hundred elements) is written into a new
    array instead of viewed: ``np.broadcast_to`` runs ~5 µs of Python, filling that takes
    ~1 µs, and a small step (the ``nielsen`` workload of benchmarks/suite.py) feels it."""
    if getattr(x, "size", 0) == 1 and math.prod(shape) <= _SMALL_FILL and x.ndim <= len(shape):
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


def swapaxes(a, axis1: int, axis2: int):
    """``np.swapaxes``, called as the array's method (the function's Python wrapper costs
    more than the view, in every VJP of a matrix product)."""
    return a.swapaxes(axis1, axis2)


class ArrayMath:
    """The functions that VJP rules use, on raw arrays (the fast, first-order path).

    ``chainrule.autograd.tensor_math`` provides the same names on Tensors; a VJP written against
    this small vocabulary is therefore differentiable again when ``create_graph=True``.
    """

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sign = staticmethod(np.sign)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)

    @staticmethod
    def where(cond, a, b):
        """np.where(cond, a, b); when one branch is a float array and the other the scalar 0 (a
        ReLU's backward: where(x > 0, g, 0)), an exact, branch-free bit mask instead. np.where
        branches per element and mispredicts on a random mask, and that select was the largest
        non-GEMM cost of a CNN's backward pass (measured by the ``cnn`` workload of
        benchmarks/suite.py; ``bench_conv.py`` profiles it per op)."""
        if isinstance(cond, np.ndarray) and cond.dtype == np.bool_:
            if _is_zero(b) and _fast_selectable(a, cond):
                return _select_bits(cond, a)
            if _is_zero(a) and _fast_selectable(b, cond):
                return _select_bits(~cond, b)
        return np.where(cond, a, b)

    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    matmul = staticmethod(matmul)
    swapaxes = staticmethod(swapaxes)
    broadcast_to = staticmethod(broadcast_to)
    concatenate = staticmethod(np.concatenate)
    sum_to = staticmethod(sum_to)

    @staticmethod
    def cast(x, dtype):
        return x.astype(dtype)

    @staticmethod
    def apply(op, *xs):
        """Another op's forward on arrays, so that a VJP can use an op as a primitive (conv's
        backward is two ops); ``tensor_math.apply`` is its recorded, differentiable twin."""
        return op.forward(*xs)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def index_add(g, index, shape):
        """Scatters ``g`` into zeros of ``shape`` at ``index``, adding where indices repeat."""
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic_index(index):
            out[index] = g
        elif (flat := _flat_positions(index, shape, g.shape)) is not None:
            # The same adds in the same order, through NumPy's fast 1-D add.at (a gather's
            # scatter of 2·10^4 values into 10^6: 0.35 -> 0.2 ms with the zeros).
            np.add.at(out.reshape(-1), flat, g.reshape(-1))
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def softmax(x, axis):
        z = x - x.max(axis=axis, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)


def _is_zero(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0


def _fast_selectable(a, cond) -> bool:
    return (
        isinstance(a, np.ndarray)
        and a.dtype in (np.float32, np.float64)
        and a.shape == cond.shape
        and a.size >= 4096  # below that np.where is as fast and the bit trick is not worth it
    )


def _select_bits(cond, a):
    """a where cond, else +0.0, by AND-ing a's bits with 0 or all ones: exact for every float,
    NaN and infinities included (a NaN where cond is False becomes 0, as np.where gives)."""
    ints = a.view(np.int32 if a.dtype == np.float32 else np.int64)
    mask = cond.astype(ints.dtype)
    np.negative(mask, out=mask)  # 1 -> -1: all bits set
    mask &= ints
    return mask.view(a.dtype)


def _flat_positions(index, shape, g_shape):
    """Flat positions (C order, negatives wrapped) for a tuple of one integer array per axis of
    ``shape`` that broadcast to ``g_shape``; None for any other index."""
    if not (isinstance(index, tuple) and len(index) == len(shape)):
        return None
    if not all(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in index):
        return None
    if np.broadcast_shapes(*(i.shape for i in index)) != tuple(g_shape):
        return None
    flat = np.ravel_multi_index(np.broadcast_arrays(*index), shape, mode="wrap")
    return flat.reshape(-1)


def _is_basic_index(index) -> bool:
    """True when ``index`` selects each element at most once (ints, slices, None, Ellipsis)."""
    if not isinstance(index, tuple):
        index = (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in index)
