"""PyTorch's legacy constructors: ``Tensor(...)``, ``FloatTensor(...)`` and their kin.

Unlike ``cr.tensor``, which infers a dtype from the data, a legacy constructor always gives its
own dtype (``Tensor``: the default dtype, float32 unless changed): ``Tensor([0])`` is
``tensor([0.])``, ``LongTensor([1.7])`` is ``tensor([1])``. Integers as arguments are sizes
(``Tensor(2, 3)``: a 2x3 tensor, uninitialised in PyTorch, zeros here); a sequence or a NumPy
array is data; a scalar is refused, as in PyTorch.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from chainrule import devices as _device
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.make import Size, _to_array, constant
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.errors import user_line

_SIGNATURES = (
    " * (*, torch.device device = None)\n"
    " * (Tensor other)\n"
    " * (tuple of ints size, *, torch.device device = None)\n"
    " * (object data, *, torch.device device = None)"
)


def _at() -> str:
    return f"\n  at {user_line()}"


def _sizes(args: tuple) -> tuple[int, ...] | None:
    """The sizes ``args`` name (``2, 3`` or one ``cr.Size``), or None when they are data."""
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if not all(isinstance(a, (int, xp.integer)) and not isinstance(a, bool) for a in args):
        return None
    shape = tuple(operator.index(a) for a in args) or (0,)  # Tensor() is empty, not 0-d
    if any(s < 0 for s in shape):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
        )
    return shape


def legacy_array(args: tuple, kwargs: dict, dtype: xp.dtype, name: str) -> xp.ndarray:
    """The array ``name(*args, **kwargs)`` holds, in ``dtype``: zeros of the sizes ``args``
    name, or the data ``args[0]`` converted (a NumPy array of ``dtype`` is shared, not copied).
    """
    if set(kwargs) - {"device"}:
        bad = ", ".join(sorted(set(kwargs) - {"device"}))
        raise TypeError(
            f"{name}(): unexpected keyword {bad}; a legacy constructor takes data or sizes and "
            f"device= only (use cr.tensor(data, dtype=..., requires_grad=...)). "
            f"Expected one of:\n{_SIGNATURES}{_at()}"
        )
    _device.check(kwargs.get("device"))
    shape = _sizes(args)
    if shape is not None:
        return xp.zeros(shape, dtype=dtype)  # PyTorch leaves it uninitialised
    if len(args) != 1:
        kinds = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"{name}(): got ({kinds}); expected one of:\n{_SIGNATURES}{_at()}")
    data = args[0]
    if isinstance(data, xp.ndarray):
        return xp.asarray(data, dtype=dtype)  # shared when the dtype is already this one
    if isinstance(data, str):
        raise TypeError(f"{name}(): invalid data type 'str'{_at()}")
    if not isinstance(data, (list, tuple, range)):
        raise TypeError(
            f"{name}(): data must be a sequence (got {type(data).__name__}); sizes are ints{_at()}"
        )
    if dtype.kind in "iu":
        return _integers(list(data), dtype)
    return _to_array(list(data), dtype)


def _integers(data: list, dtype: xp.dtype) -> xp.ndarray:
    """``data`` in an integer dtype, as PyTorch converts it: floats truncated toward zero,
    values outside the dtype's range refused (but see ``_wrapped``)."""
    try:
        floats = xp.array(data)
    except ValueError:
        floats = None  # ragged: _to_array says so
    if floats is not None and floats.dtype.kind == "f":
        info = xp.iinfo(dtype)
        if floats.size and (floats.min() < info.min or floats.max() > info.max):
            raise RuntimeError(f"value cannot be converted to type {dtype} without overflow")
        return floats.astype(dtype)
    try:
        return _to_array(data, dtype)
    except OverflowError:
        return _wrapped(data, dtype)


def _wrapped(data: list, dtype: xp.dtype) -> xp.ndarray:
    """Integers outside ``dtype``'s range, as PyTorch converts them: refused, except negative
    ones for an unsigned dtype down to minus its maximum, which wrap (``ByteTensor([-1])``)."""
    values = xp.array(data, dtype=object)
    info = xp.iinfo(dtype)
    low = -info.max if info.min == 0 else info.min
    if values.size and (values.max() > info.max or values.min() < low):
        raise RuntimeError(f"value cannot be converted to type {dtype} without overflow")
    return values.astype(xp.int64).astype(dtype)


def from_tensor(other: Tensor, dtype: xp.dtype | None, name: str, kwargs: dict) -> Tensor:
    """``Tensor(other)``: a view of ``other`` sharing its storage (and its graph, as PyTorch's
    alias); for a typed constructor ``other`` must already have that dtype."""
    if set(kwargs) == {"device"}:
        raise RuntimeError(
            f"Legacy tensor constructor of the form torch.{name}(tensor, device=device) is not "
            "supported.  Use torch.tensor(...) or torch.as_tensor(...) instead."
        )
    if kwargs:
        raise TypeError(
            f"{name}(): a tensor takes no keywords (got {', '.join(kwargs)}); expected one "
            f"of:\n{_SIGNATURES}"
        )
    if dtype is not None and other.dtype != dtype:
        raise TypeError(f"{name}(): expected a tensor of dtype {dtype}, got one of {other.dtype}")
    return other[...]  # a view: a new Tensor on the same storage


class _Legacy:
    """``FloatTensor(...)`` and its kin: sizes give a tensor of that shape (zeros, as ``empty``
    here), data gives a tensor of it, both in the class's dtype (``LongTensor([1.7])`` is
    ``tensor([1])``). ``isinstance(x, LongTensor)`` asks whether ``x`` is an int64 tensor."""

    def __init__(self, name: str, dtype):
        self.__name__, self.dtype = name, xp.dtype(dtype)

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        if len(args) == 1 and isinstance(args[0], make.Tensor):
            return from_tensor(args[0], self.dtype, self.__name__, kwargs)
        return constant(legacy_array(args, kwargs, self.dtype, self.__name__))

    def __instancecheck__(self, obj) -> bool:
        return isinstance(obj, make.Tensor) and obj.dtype == self.dtype

    def __repr__(self) -> str:
        return f"<class 'chainrule.{self.__name__}'>"


FloatTensor = _Legacy("FloatTensor", xp.float32)
DoubleTensor = _Legacy("DoubleTensor", xp.float64)
LongTensor = _Legacy("LongTensor", xp.int64)
IntTensor = _Legacy("IntTensor", xp.int32)
BoolTensor = _Legacy("BoolTensor", xp.bool_)
ByteTensor = _Legacy("ByteTensor", xp.uint8)
