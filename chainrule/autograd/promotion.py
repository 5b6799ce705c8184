"""PyTorch's type promotion for the operands of a binary op: ``result_type``, and the
operands lifted to Tensors and cast to their common dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import backend
from chainrule.autograd import (
    autocast,
    make,  # make.Tensor: the class, read at call time (see make.py)
)
from chainrule.autograd.flags import cpp_name, scalar_type
from chainrule.autograd.make import _to_array, constant
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, kind
from chainrule.errors import user_line

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def result_type(a, b) -> xp.dtype:
    """The dtype of ``a (op) b`` under PyTorch's promotion: categories bool < integer < floating <
    complex; a dimensioned tensor's dtype wins over a 0-d tensor's, and a 0-d tensor's over a
    Python number's, unless the lower-priority operand is of a higher category."""
    a = (
        a
        if isinstance(a, make.Tensor)
        else _lift(a, b)
        if isinstance(b, make.Tensor)
        else make.Tensor(a)
    )
    b = b if isinstance(b, make.Tensor) else _lift(b, a)
    return _promoted(a._data, b._data)


def _promoted(x: xp.ndarray, y: xp.ndarray) -> xp.dtype:
    dx, dy = x.dtype, y.dtype
    cx, cy = _CATEGORY[kind(dx)], _CATEGORY[kind(dy)]
    if (x.ndim == 0) == (y.ndim == 0):
        if cx == cy:
            return xp.promote_types(dx, dy)
        return dx if cx > cy else dy
    if x.ndim == 0:  # y has dimensions: its dtype wins unless x is of a higher category
        return dx if cx > cy else dy
    return dy if cy > cx else dx


def _pair(a: Tensor, b: Tensor, true_div: bool = False) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op in their PyTorch-promoted dtype (true division of integers
    gives the default float dtype)."""
    da, db = a._data.dtype, b._data.dtype
    if da is db or da == db:
        if not true_div or kind(da) in "fc":
            return a, b
        dt = get_default_dtype()
    else:
        dt = _promoted(a._data, b._data)
        if true_div and kind(dt) not in "fc":
            dt = get_default_dtype()
    return a.astype(dt), b.astype(dt)


def _lift(x, like: Tensor) -> Tensor:
    """An operand as a Tensor; Python numbers take the other operand's dtype (NumPy's rule)."""
    if isinstance(x, make.Tensor):
        return x
    if isinstance(x, (int, float)):
        dt = like._data.dtype
        if kind(dt) not in "fc":
            dt = xp.result_type(dt, x)
            if dt == xp.float64 and isinstance(x, float):
                dt = get_default_dtype()
        return constant(xp.asarray(x, dtype=dt))
    if isinstance(x, (xp.ndarray, xp.generic)):
        return constant(xp.asarray(x))
    return constant(_to_array(x, None))


def _check_sub(a: Tensor, b) -> None:
    if (
        a._data.dtype == xp.bool_
        or isinstance(b, bool)
        or (isinstance(b, make.Tensor) and b._data.dtype == xp.bool_)
    ):
        raise TypeError(
            "subtraction with a bool tensor or value is not supported (as in PyTorch); to invert "
            f"a mask use ~mask\n  at {user_line()}"
        )


def _as_np_tensor(x) -> Tensor:
    """``x`` as a Tensor, where data that is not yet one keeps the dtype NumPy gives it: a Python
    float becomes float64 here, where ``cr.as_tensor`` gives the default dtype. These functions
    (``cr.exp(2.0)``) have always converted so; layers and ``F`` call ``cr.as_tensor``."""
    return x if isinstance(x, make.Tensor) else constant(xp.asarray(x))


def matmul_operands(a, b) -> tuple[Tensor, Tensor]:
    """The operands of a user's ``a @ b`` (``matmul``, ``mm``, ``bmm``) as Tensors of one dtype.

    PyTorch promotes no dtype in a matrix product: float32 @ float64 (or @ int64) is a
    RuntimeError, worded by the kernel the shapes reach (dot, addmv, mm, bmm); the same words
    here. Python numbers are lifted to the other operand's dtype as elsewhere.
    """
    a = _as_np_tensor(a) if not isinstance(a, make.Tensor) else a
    b = _lift(b, a)
    if backend.autocast_dtype is not None:  # on autocast's lower-precision list
        a, b = autocast.lower(a, b)
    da, db = a._data.dtype, b._data.dtype
    if da is db or da == db:
        return a, b
    na, nb = a._data.ndim, b._data.ndim
    if na == 1 and nb == 1:
        msg = "dot : expected both vectors to have same dtype, but found {A} and {B}"
    elif nb == 1:
        msg = "addmv input tensors must have the same dtype, but got {B}, {A}, and {B}"
    elif nb == 2:
        msg = "expected m1 and m2 to have the same dtype, but got: {a} != {b}"
    else:
        msg = "expected scalar type {A} but found {B}"
    msg = msg.format(A=scalar_type(da), B=scalar_type(db), a=cpp_name(da), b=cpp_name(db))
    raise RuntimeError(
        f"{msg} (matmul of {da} and {db}: convert one, e.g. b.to(a.dtype))\n  at {user_line()}"
    )


def check_linear_dtypes(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Raises PyTorch's RuntimeError when ``F.linear``'s input, weight and bias differ in dtype
    (a float64 batch into a float32 layer is the usual case): PyTorch promotes none of them."""
    dx, dw = x._data.dtype, weight._data.dtype
    if bias is None:
        if dx != dw:
            msg = f"expected m1 and m2 to have the same dtype, but got: {cpp_name(dx)} != {cpp_name(dw)}"
        else:
            return
    elif dx != dw:
        msg = f"mat1 and mat2 must have the same dtype, but got {scalar_type(dx)} and {scalar_type(dw)}"
    elif bias._data.dtype != dw:
        db = bias._data.dtype
        msg = f"self and mat2 must have the same dtype, but got {scalar_type(db)} and {scalar_type(dw)}"
    else:
        return
    raise RuntimeError(
        f"{msg} (linear: input {dx}, weight {dw}"
        f"{'' if bias is None else f', bias {bias._data.dtype}'}; convert the input, e.g. "
        f"x.float(), or the layer, e.g. model.double())\n  at {user_line()}"
    )
