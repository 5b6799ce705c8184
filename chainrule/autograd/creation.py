"""Functions that make new tensors: from data, filled with constants, or random."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chainrule import devices as _device
from chainrule import random as _random
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.compile_hooks import redrawn
from chainrule.autograd.flags import check_requires_grad
from chainrule.autograd.legacy import (  # noqa: F401 (re-exported)
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
)
from chainrule.autograd.make import _to_array, constant
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dtype(dtype):
    return get_default_dtype() if dtype is None else xp.dtype(dtype)


def _make(arr: xp.ndarray, requires_grad: bool) -> Tensor:
    t = constant(arr)
    if requires_grad:
        check_requires_grad(t, True, "creation")  # a floating dtype, or PyTorch's RuntimeError
        t._requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor from numbers, nested lists or a NumPy array (copied).

    Python floats become the default dtype (float32 unless changed); NumPy arrays keep theirs;
    integers stay integer (int64) and booleans bool. A Python int that the dtype cannot hold is
    refused as PyTorch refuses it (``_python_ints``).
    """
    _device.check(device)
    return _make(_from_data(data, dtype), requires_grad)


def from_numpy(array: xp.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy; its dtype is kept)."""
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _make(array, False)


def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of ``shape``."""
    _device.check(device)
    return _make(xp.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of ``shape``."""
    _device.check(device)
    return _make(xp.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def full(
    shape: Sequence[int], fill_value, dtype=None, *, device=None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    _device.check(device)
    if dtype is None and isinstance(fill_value, (bool, int)) and not isinstance(fill_value, float):
        dtype = xp.bool_ if isinstance(fill_value, bool) else xp.int64
    return _make(xp.full(tuple(shape), fill_value, dtype=_dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    _device.check(device)
    return _make(xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    _device.check(device)
    return _make(xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def arange(
    start, stop=None, step=1, dtype=None, *, device=None, requires_grad: bool = False
) -> Tensor:
    """Evenly spaced values in [start, stop), as ``numpy.arange``; integers unless a float is given.

    As ``torch.arange``: a zero step, a range that runs against the step's sign, or an infinite
    or NaN bound is a RuntimeError (NumPy would divide by zero or return an empty array)."""
    _device.check(device)
    if stop is None:
        start, stop = 0, start
    _check_range(start, stop, step)
    arr = xp.arange(start, stop, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype == xp.float64:
        arr = arr.astype(get_default_dtype())
    return _make(arr, requires_grad)


def _check_range(start, stop, step) -> None:
    """PyTorch's checks of ``arange``'s bounds, in its order and words."""
    start, stop, step = (x.item() if isinstance(x, make.Tensor) else x for x in (start, stop, step))
    if step == 0:
        raise RuntimeError(f"step must be nonzero (arange({start}, {stop}, {step}))")
    if not (xp.isfinite(start) and xp.isfinite(stop)):
        raise RuntimeError(f"unsupported range: {start} -> {stop}")
    if (step > 0 and stop < start) or (step < 0 and stop > start):
        raise RuntimeError(
            f"upper bound and lower bound inconsistent with step sign (arange({start}, {stop}, "
            f"{step}): from {start} to {stop} a step of {step} never arrives)"
        )


def randn(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution, from the library's seeded generator."""
    _device.check(device)
    return _make(redrawn(_normal, _shape(shape), _dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1), from the library's seeded generator."""
    _device.check(device)
    return _make(redrawn(_uniform, _shape(shape), _dtype(dtype)), requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` whose values are not set (zeros here, so nothing is left to chance)."""
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(t: Tensor, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``t``'s shape (and dtype, unless given) whose values are not set (zeros)."""
    return zeros_like(t, dtype, device=device, requires_grad=requires_grad)


def full_like(
    t: Tensor, fill_value, dtype=None, *, device=None, requires_grad: bool = False
) -> Tensor:
    """``fill_value`` in the shape (and dtype, unless given) of ``t``."""
    _device.check(device)
    return _make(xp.full(t.shape, fill_value, dtype=dtype or t.dtype), requires_grad)


def eye(
    n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """The (n, m) identity matrix (ones on the diagonal); m defaults to n."""
    _device.check(device)
    return _make(xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def linspace(
    start: float, end: float, steps: int, *, dtype=None, device=None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included: shape (steps,)."""
    _device.check(device)
    return _make(xp.linspace(start, end, int(steps)).astype(_dtype(dtype)), requires_grad)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """``base ** linspace(start, end, steps)``: shape (steps,)."""
    _device.check(device)
    arr = xp.logspace(start, end, int(steps), base=base)
    return _make(arr.astype(_dtype(dtype)), requires_grad)


def randn_like(t: Tensor, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples in the shape (and dtype, unless given) of ``t``."""
    return randn(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def rand_like(t: Tensor, dtype=None, *, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples in the shape (and dtype, unless given) of ``t``."""
    return rand(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def randint(*args, size=None, dtype=None, device=None, generator=None) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``, as PyTorch; int64 unless ``dtype`` says otherwise."""
    _device.check(device)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        *args, size = args
    if size is None or len(args) not in (1, 2):
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    low, high = (0, args[0]) if len(args) == 1 else args
    dtype = xp.int64 if dtype is None else dtype
    return _make(redrawn(_integers, int(low), int(high), tuple(size), xp.dtype(dtype)), False)


def randperm(n: int, *, dtype=None, device=None, generator=None) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` says otherwise)."""
    _device.check(device)
    dtype = xp.int64 if dtype is None else dtype
    return _make(redrawn(_permutation, int(n), xp.dtype(dtype)), False)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, as ``torch.as_tensor``: a Tensor of that dtype is returned itself, a
    NumPy array is shared when no conversion is needed, anything else is copied as ``tensor``
    does (Python floats take the default dtype).

    Args:
        data: a Tensor, a NumPy array, a number or nested lists of numbers.
        dtype: the dtype wanted (None: the data's own, or the default one for Python floats).
        device: only the CPU.
    """
    if dtype is None and device is None and isinstance(data, make.Tensor):
        return data  # the common case (a function's input that is already a Tensor), first
    _device.check(device)
    if isinstance(data, make.Tensor):
        return data if dtype is None else data.astype(dtype)
    if isinstance(data, xp.ndarray) and (dtype is None or xp.dtype(dtype) == data.dtype):
        return _make(data, False)
    return _make(_from_data(data, dtype), False)


def _from_data(data, dtype) -> xp.ndarray:
    """``data`` (a number, nested lists, an array) as a new array of ``dtype``, where Python ints
    that NumPy cannot store as asked follow PyTorch's rules (``_python_ints``)."""
    try:
        arr = _to_array(data, dtype)
    except (TypeError, OverflowError):  # NumPy: object dtype, or out of bounds for the dtype
        arr = _python_ints(data, dtype)
        if arr is None:
            raise
        return arr
    if arr.dtype == xp.uint64 and dtype is None and not isinstance(data, (xp.ndarray, xp.generic)):
        # NumPy stores a Python int in 2**63 .. 2**64-1 as uint64 where PyTorch refuses it.
        return _python_ints(data, dtype)  # type: ignore[return-value]
    return arr


_INT64 = xp.iinfo(xp.int64)


def _python_ints(data, dtype) -> xp.ndarray | None:
    """PyTorch's rules for Python ints in ``torch.tensor(data, dtype=dtype)``, applied where
    NumPy's differ; None where ``data`` holds no Python int outside int64 or the dtype's range
    (then NumPy's own error stands).

    - An int outside int64 is refused, ``ValueError("Overflow when unpacking long long")``,
      unless a float (or complex) beside it, or a float dtype, makes the tensor a float one;
      with ``dtype=uint64`` the range is 0 .. 2**64-1 (``OverflowError`` beyond it).
    - An int inside int64 but outside a narrower integer dtype is refused,
      ``RuntimeError("value cannot be converted to type int8 without overflow")``; unsigned
      dtypes take -max .. max and wrap the negative ones (``uint8``: -1 is 255).
    """
    lo, hi, inexact = _int_bounds(data)
    want = xp.dtype(xp.int64 if dtype is None else dtype)
    if lo is None or want.kind not in "iu":
        return None  # no Python int, or a float or bool dtype (which takes any int)
    big = lo < _INT64.min or hi > _INT64.max
    if dtype is None and inexact:  # a float beside the ints: a float tensor, as in PyTorch
        return (
            _to_array(data, xp.complex64 if inexact == "c" else get_default_dtype())
            if big
            else None
        )
    if want == xp.uint64:
        low, high = 0, int(xp.iinfo(xp.uint64).max)
        if lo < low or hi > high:
            raise OverflowError(f"tensor: {_int_text(lo if lo < low else hi)} does not fit uint64")
    elif big:
        raise ValueError(
            f"tensor: Overflow when unpacking long long: {_int_text(hi if hi > _INT64.max else lo)}"
            f" lies outside int64's range {_INT64.min} .. {_INT64.max}"
        )
    else:
        info = xp.iinfo(want)
        low, high = (-int(info.max) if want.kind == "u" else int(info.min)), int(info.max)
        if lo < low or hi > high:
            raise RuntimeError(
                f"tensor: value cannot be converted to type {want.name} without overflow: "
                f"{lo if lo < low else hi} lies outside {low} .. {high}"
            )
    if want.kind == "u" and lo < 0:  # PyTorch wraps them (uint8: -1 is 255); NumPy refuses
        try:
            return xp.array(data, dtype=xp.int64).astype(want)
        except (TypeError, ValueError):
            return None
    return None  # every int fits: the error was another one, NumPy's stands


def _int_bounds(data) -> tuple[int | None, int | None, str]:
    """The least and greatest Python int (not bool) in ``data`` and its nested lists (None,
    None if there is none), and "c" or "f" if a Python complex or float is there too."""
    lo = hi = None
    inexact = ""
    stack = [data]
    while stack:  # iterative: a nesting deep enough for Python's recursion limit is no error here
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, int) and not isinstance(x, bool):
            lo = x if lo is None else min(lo, x)
            hi = x if hi is None else max(hi, x)
        elif isinstance(x, complex):
            inexact = "c"
        elif isinstance(x, float) and not inexact:
            inexact = "f"
    return lo, hi, inexact


def _int_text(v: int) -> str:
    """``v`` in digits, or its size where its digits would flood the line (or exceed Python's
    4,300-digit limit on printing an int)."""
    return str(v) if v.bit_length() <= 256 else f"an int of {v.bit_length()} bits"


def _integers(low: int, high: int, shape: tuple[int, ...], dtype: xp.dtype) -> xp.ndarray:
    return _random.generator().integers(low, high, shape).astype(dtype)


def _permutation(n: int, dtype: xp.dtype) -> xp.ndarray:
    return _random.generator().permutation(n).astype(dtype)


def _normal(shape: tuple[int, ...], dtype: xp.dtype) -> xp.ndarray:
    return _random.generator().standard_normal(shape).astype(dtype)


def _uniform(shape: tuple[int, ...], dtype: xp.dtype) -> xp.ndarray:
    return _random.generator().random(shape).astype(dtype)


def normal(mean, std, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Samples of N(mean, std²): numbers with ``size``, or tensors broadcast together."""
    _device.check(device)
    m, s = xp.asarray(_value(mean)), xp.asarray(_value(std))
    shape = tuple(size) if size is not None else xp.broadcast_shapes(m.shape, s.shape)
    if isinstance(mean, make.Tensor) and dtype is None:
        dtype = mean.dtype
    return _make(redrawn(_gaussian, m, s, shape, _dtype(dtype)), False)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """0/1 samples that are 1 with probability ``input`` (or ``p``), in ``input``'s dtype."""
    probs = xp.asarray(_value(input) if p is None else xp.broadcast_to(p, input.shape))
    return _make(redrawn(_coin, probs, xp.dtype(input.dtype)), False)


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None
) -> Tensor:
    """Indices (int64) drawn from the categorical distributions in the rows of ``input``
    (non-negative weights, normalised per row): shape (num_samples,) or (rows, num_samples)."""
    w = xp.asarray(_value(input), dtype=xp.float64)
    if w.ndim not in (1, 2) or (w < 0).any() or not xp.isfinite(w).all():
        raise ValueError(
            "multinomial: expected a 1-D or 2-D tensor of finite, non-negative weights, got "
            f"shape {w.shape}"
        )
    rows = w.reshape(-1, w.shape[-1])
    if not replacement and num_samples > (rows > 0).sum(axis=1).min():
        raise RuntimeError(
            "multinomial: cannot draw more samples than there are nonzero weights without "
            "replacement"
        )
    out = redrawn(_categorical, rows, int(num_samples), bool(replacement))
    return _make(out.reshape(w.shape[:-1] + (num_samples,)), False)


def _value(x):
    return x._data if isinstance(x, make.Tensor) else x


def _gaussian(m, s, shape, dtype) -> xp.ndarray:
    return _random.generator().normal(m, s, shape).astype(dtype)


def _coin(probs, dtype) -> xp.ndarray:
    return (_random.generator().random(probs.shape) < probs).astype(dtype)


def _categorical(rows, n: int, replacement: bool) -> xp.ndarray:
    gen = _random.generator()
    p = rows / rows.sum(axis=1, keepdims=True)
    return xp.stack([gen.choice(len(r), size=n, replace=replacement, p=r) for r in p]).astype(
        xp.int64
    )
