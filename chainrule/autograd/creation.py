"""Functions that make new tensors: from data, filled with constants, or random."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule import random as _random
from chainrule.autograd.function import fresh
from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _dtype(dtype):
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor.__new__(Tensor)
    t._set(arr, requires_grad)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor from numbers, nested lists or a NumPy array (copied).

    Python floats become the default dtype (float32 unless changed); NumPy arrays keep theirs;
    integers stay integer (int64) and booleans bool.
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy; its dtype is kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _make(array, False)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of ``shape``."""
    return _make(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of ``shape``."""
    return _make(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def full(shape: Sequence[int], fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    if dtype is None and isinstance(fill_value, (bool, int)) and not isinstance(fill_value, float):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _make(np.full(tuple(shape), fill_value, dtype=_dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    return _make(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    return _make(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), as ``numpy.arange``; integers unless a float is given."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype == np.float64:
        arr = arr.astype(get_default_dtype())
    return _make(arr, requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution, from the library's seeded generator."""
    return _make(fresh(_normal, _shape(shape), _dtype(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1), from the library's seeded generator."""
    return _make(fresh(_uniform, _shape(shape), _dtype(dtype)), requires_grad)


def _normal(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return _random.generator().standard_normal(shape).astype(dtype)


def _uniform(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return _random.generator().random(shape).astype(dtype)
