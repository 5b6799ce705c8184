"""The math namespace on Tensors: the names ``backend.ArrayMath`` offers on arrays (``exp``,
``where``, ``sum_to``, ``index_add``, ...), handed to VJP rules in its place when the backward
pass is recorded (``create_graph=True``), so that a VJP written once is differentiable again.
Layers and ``F`` reach the differentiable functions through it too (``_fn.softmax``).

Nothing is computed here but the two helpers ArrayMath has and PyTorch has not (``zeros(shape,
like)``, ``cast``): each function is defined once, in the module named for its kind
(``pointwise``, ``reductions``, ``sorting``, ``indexing``, ``linalg``, ``shape``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule.autograd.indexing import (  # noqa: F401 (the namespace)
    gather,
    index_add,
    index_select,
    masked_fill,
    take_along_dim,
)
from chainrule.autograd.linalg import matmul  # noqa: F401
from chainrule.autograd.make import apply, constant  # noqa: F401 (apply: ArrayMath.apply's recorded twin)
from chainrule.autograd.pointwise import (  # noqa: F401
    abs,
    add,
    clamp,
    clip,
    cos,
    exp,
    log,
    maximum,
    minimum,
    mul,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    tanh,
    where,
)
from chainrule.autograd.promotion import _as_np_tensor
from chainrule.autograd.reductions import (  # noqa: F401
    amax,
    amin,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    std,
    sum,
    var,
)
from chainrule.autograd.shape import (  # noqa: F401
    broadcast_to,
    cat,
    concatenate,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
    unsqueeze,
)
from chainrule.autograd.sorting import argsort, median, sort, topk  # noqa: F401
from chainrule.backend import xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


def zeros(shape, like: Tensor) -> Tensor:
    """Zeros of ``shape`` in ``like``'s dtype (no gradient)."""
    return constant(xp.zeros(shape, dtype=like.dtype))


def cast(x, dtype) -> Tensor:
    """x converted to ``dtype`` (differentiable between floating dtypes)."""
    return _as_np_tensor(x).astype(dtype)
