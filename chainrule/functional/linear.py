"""The affine map of a fully connected layer."""

from __future__ import annotations

from chainrule.autograd import autocast as _autocast
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.promotion import check_linear_dtypes
from chainrule.autograd.tensor import Tensor, apply
from chainrule.errors import ShapeError
from chainrule.ops.matmul import Linear


# Under CPU autocast, on PyTorch's lower-precision list: runs in the autocast dtype.
@_autocast.lower_precision
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b.

    Args:
        input: x of shape (*, D_in): (N, D_in), or (N, T, D_in) for a sequence.
        weight: W of shape (D_out, D_in), PyTorch's layout.
        bias: b of shape (D_out,), or None.
    Returns:
        y of shape (*, D_out).
    """
    x = as_tensor(input)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: expected input (*, {weight.shape[1] if weight.ndim == 2 else '?'}) to match "
            f"weight (D_out, D_in) = {weight.shape}; got input {x.shape}. "
            f"Expect: x.shape[-1] == weight.shape[1]  Actual: "
            f"{x.shape[-1] if x.ndim else '()'} != {weight.shape[1] if weight.ndim == 2 else '?'}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(
            f"linear: bias must have shape ({weight.shape[0]},) for weight {weight.shape}, got "
            f"{bias.shape}"
        )
    dw = weight._data.dtype
    if x._data.dtype != dw or (bias is not None and bias._data.dtype != dw):
        check_linear_dtypes(x, weight, bias)  # PyTorch's RuntimeError: it promotes none of them
    args = (x, weight) if bias is None else (x, weight, bias)
    if x.ndim == 2:
        return apply(Linear(), *args)
    if x.ndim == 1:
        return apply(Linear(), x.reshape((1, -1)), *args[1:]).reshape((weight.shape[0],))
    # One 2-D GEMM instead of a batched one: the weight's gradient is then a single GEMM too,
    # not a stack of them summed afterwards.
    lead = x.shape[:-1]
    y = apply(Linear(), x.reshape((-1, x.shape[-1])), *args[1:])
    return y.reshape(lead + (weight.shape[0],))
