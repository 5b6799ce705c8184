"""What CPU autocast does to an op's operands (``chainrule.amp.autocast`` turns it on).

PyTorch's CPU autocast runs the ops of its "lower precision" list (matmul, mm, bmm, linear,
the convolutions, scaled_dot_product_attention, einsum through bmm) in the autocast dtype
(bfloat16 by default) and those of its "float32" list (the losses, ``prod``) in float32; every
other op runs in the dtype its operands have. Only float32, float16 and bfloat16 tensors are
cast (float64 and integer tensors never are). The casts are ordinary differentiable ``astype``
nodes, so a parameter's gradient comes back in its own dtype.

The state lives in ``chainrule.backend`` (``autocast_dtype``: None while autocast is off), so
that the check on each op is one attribute read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrule import backend
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.backend import xp

_ELIGIBLE = (xp.dtype(xp.float32), xp.dtype(xp.float16), backend.bfloat16)


def lower(*xs: Any) -> tuple:
    """The operands of a lower-precision op: eligible float Tensors cast to the autocast dtype,
    the rest unchanged. Call only while ``backend.autocast_dtype`` is set."""
    dt = backend.autocast_dtype
    return tuple(
        x.astype(dt) if isinstance(x, make.Tensor) and x._data.dtype in _ELIGIBLE else x for x in xs
    )


def _full(x: Any) -> Any:
    if isinstance(x, make.Tensor) and x._data.dtype in _ELIGIBLE:
        return x.astype(xp.float32)
    return x


def lower_precision(fn: Callable) -> Callable:
    """``fn`` with its Tensor arguments cast by ``lower`` while autocast is on."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if backend.autocast_dtype is None:
            return fn(*args, **kwargs)
        return fn(*lower(*args), **{k: lower(v)[0] for k, v in kwargs.items()})

    return wrapper


def full_precision(fn: Callable) -> Callable:
    """``fn`` with its float Tensor arguments in float32 while autocast is on (PyTorch's
    autocast "fp32" list: the losses)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if backend.autocast_dtype is None:
            return fn(*args, **kwargs)
        return fn(*map(_full, args), **{k: _full(v) for k, v in kwargs.items()})

    return wrapper
