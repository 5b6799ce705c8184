"""Products under PyTorch's signatures (``cr.matmul``, ``cr.dot``, ``cr.mm``, ``cr.bmm``,
``cr.einsum``), each the one definition its method and operator (``@``) reach. PyTorch promotes
no dtype in a product: both operands must have one (``promotion.matmul_operands``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import backend as _backend
from chainrule import ops
from chainrule.autograd import autocast as _autocast
from chainrule.autograd import make  # make.Tensor: the class, read at call time (see make.py)
from chainrule.autograd.make import apply
from chainrule.autograd.promotion import _as_np_tensor, _pair, matmul_operands
from chainrule.backend import xp
from chainrule.errors import expect, user_line

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


def matmul(input, other) -> Tensor:
    """The matrix product, broadcast over leading dimensions as ``torch.matmul`` (1-D operands
    promoted to matrices and back); both operands of one dtype, as PyTorch requires."""
    return apply(ops.MatMul(), *matmul_operands(input, other))


def dot(input, other) -> Tensor:
    """The inner product of two 1-D tensors of one size and dtype, Σᵢ aᵢ bᵢ: a 0-d tensor
    (``torch.dot``; PyTorch's RuntimeErrors for other ranks or sizes)."""
    a, b = _as_np_tensor(input), _as_np_tensor(other)
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
    return apply(ops.MatMul(), *matmul_operands(a, b))


def mm(input, mat2) -> Tensor:
    """The matrix product of two 2-D tensors, (n, m) @ (m, p) -> (n, p)."""
    _need_dims("mm", 2, input, mat2)
    return apply(ops.MatMul(), *matmul_operands(input, mat2))


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of 3-D tensors, (b, n, m) @ (b, m, p) -> (b, n, p)."""
    _need_dims("bmm", 3, input, mat2)
    return apply(ops.MatMul(), *matmul_operands(input, mat2))


def _need_dims(op: str, ndim: int, *tensors) -> None:
    """mm and bmm take exactly ``ndim``-D operands, as in PyTorch (matmul broadcasts instead)."""
    shapes = [tuple(t.shape) if isinstance(t, make.Tensor) else xp.shape(t) for t in tensors]
    expect(
        all(len(s) == ndim for s in shapes),
        op,
        f"{ndim}-D tensors",
        f"shapes {shapes[0]} and {shapes[1]}; use matmul (or @) to broadcast",
    )


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over the operands' subscripts (``torch.einsum``): ``"ij,jk->ik"`` is
    a matrix product, ``"bij->bji"`` a transpose, ``"ii"`` a trace; ``...`` stands for the
    leading dimensions, and without ``->`` the output has the letters used once, in order.
    The operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_as_np_tensor(x) for x in operands]
    if _backend.autocast_dtype is not None:  # PyTorch's einsum runs as bmm: lower precision
        xs = list(_autocast.lower(*xs))
    for k in range(1, len(xs)):  # one dtype for all, by PyTorch's promotion
        xs[0], xs[k] = _pair(xs[0], xs[k])
    xs = [x.astype(xs[0].dtype) for x in xs]
    subs, out = ops.einsum.parse(equation, [x.ndim for x in xs])
    return apply(ops.Einsum(subs, out), *xs)
