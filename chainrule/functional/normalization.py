"""Normalisation: batch norm (statistics over the batch) and layer norm (over the features).

Batch norm in evaluation mode is a composition of primitives; batch norm in training mode is one
fused op (``ops.normalization.BatchNormTrain``) for speed, and layer and group norm are one
(``ops.normalization.GroupNorm``) for float32 and float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chainrule.autograd.compile_hooks import side_effect
from chainrule.autograd.tensor import Tensor, apply, constant, recomputed
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.conv import check_window
from chainrule.functional.pooling import max_pool2d
from chainrule.ops.conv import Geometry
from chainrule.ops.normalization import BatchNormMaxPool2d, BatchNormTrain, GroupNorm


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation: each channel normalised by statistics over every axis but axis 1.

        y = (x - mean) / sqrt(var + eps) * weight + bias

    In training, ``mean`` and ``var`` are the batch's (the biased variance), and the running
    statistics, when given, are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch variance
    for ``running_var`` (as PyTorch). In evaluation the running statistics are used.

    Args:
        input: x of shape (N, C), (N, C, L) or (N, C, H, W).
        running_mean, running_var: (C,) Tensors, or None (then ``training`` must be True).
        weight, bias: (C,) Tensors, or None for no affine transform.
    Returns:
        y, the same shape as x.
    """
    C = _check_batch_norm_shapes(input, running_mean, running_var, weight, bias)
    if training:
        return _batch_norm_train(input, running_mean, running_var, weight, bias, momentum, eps)
    if running_mean is None or running_var is None:
        raise ValueError(
            "batch_norm: running_mean and running_var are required when training=False"
        )
    # Evaluation: an affine map per channel, y = x · scale + shift, with
    # scale = w / √(running_var + eps) and shift = b - running_mean · scale.
    inv = recomputed(_inverse_std, running_var, eps, input.dtype)
    rm = recomputed(_as_dtype, running_mean, input.dtype)
    scale = inv if weight is None else weight * inv
    shift = -rm * scale
    if bias is not None:
        shift = shift + bias
    bshape = (1, C) + (1,) * (input.ndim - 2)
    return input * scale.reshape(bshape) + shift.reshape(bshape)


def _check_batch_norm_shapes(input, running_mean, running_var, weight, bias) -> int:
    """The channel count C of input (N, C, ...), after checking every (C,) argument against it."""
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, ...), got {input.shape}")
    C = input.shape[1]
    for what, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t.shape != (C,):
            raise ShapeError(
                f"batch_norm: {what} must have shape ({C},) for input {input.shape} with {C} "
                f"channels, got {t.shape}"
            )
    return C


def batch_norm_max_pool2d(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    kernel_size: int,
) -> Tensor:
    """``F.max_pool2d(F.batch_norm(input, ...), kernel_size)``, the same numbers and gradients,
    in training mode as one op (``ops.normalization.BatchNormMaxPool2d``) whose backward skips
    the full-size gradient of the batch norm's output. Not a PyTorch function: the zoo's
    networks (``models.blocks``) call it for BatchNorm2d → ReLU → MaxPool2d(k), with the ReLU
    after the pooling (exact: ReLU and max commute, gradient positions and ties included).

    Args: those of ``batch_norm``, and kernel_size k (stride k, no padding).
    Returns: (N, C, H // k, W // k).
    """
    if not training or input.ndim != 4:
        y = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
        return max_pool2d(y, kernel_size)
    _check_batch_norm_shapes(input, running_mean, running_var, weight, bias)
    check_window("max_pool2d", input.shape, (kernel_size, kernel_size), (0, 0), "window")
    geom = Geometry(kernel_size, kernel_size, kernel_size, kernel_size, 0, 0)
    return _batch_norm_train(
        input, running_mean, running_var, weight, bias, momentum, eps, BatchNormMaxPool2d(eps, geom)
    )


def _batch_norm_train(
    input, running_mean, running_var, weight, bias, momentum, eps, op=None
) -> Tensor:
    """y from the batch's statistics (``op``, else ``BatchNormTrain``); the running statistics,
    when given, move towards them."""
    C = input.shape[1]
    n = input._data.size // C if C else 0
    if n <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {input.shape}\n  at {user_line()}"
        )
    # One fused op (its backward is a few passes, not a dozen); None means no affine part.
    w = weight if weight is not None else constant(xp.ones(C, dtype=input.dtype))
    b = bias if bias is not None else constant(xp.zeros(C, dtype=input.dtype))
    op = BatchNormTrain(eps) if op is None else op
    y = apply(op, input, w, b)
    if running_mean is not None or running_var is not None:
        side_effect(_update_running_stats, running_mean, running_var, op, momentum, n / (n - 1))
    return y


def _inverse_std(var: xp.ndarray, eps: float, dtype) -> xp.ndarray:
    return (1.0 / xp.sqrt(var + eps)).astype(dtype, copy=False)


def _as_dtype(a: xp.ndarray, dtype) -> xp.ndarray:
    return a.astype(dtype, copy=False)


def _update_running_stats(mean: Tensor | None, var: Tensor | None, op, momentum, correction):
    """Moves the running statistics towards the batch's (``op`` holds them after its forward)."""
    _update_running(mean, op.mean, momentum, 1.0)
    _update_running(var, op.var, momentum, correction)


def _update_running(running: Tensor | None, batch, momentum: float, correction: float) -> None:
    if running is None:
        return
    stat = batch.reshape(-1) * correction
    running._data[...] = (1.0 - momentum) * running._data + momentum * stat


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation: each sample normalised over its last ``len(normalized_shape)`` axes.

        y = (x - mean) / sqrt(var + eps) * weight + bias    (biased variance)

    Args:
        input: x of shape (*, *normalized_shape), e.g. (N, D) or (N, T, D).
        normalized_shape: the trailing shape to normalise over, e.g. D or (T, D).
        weight, bias: Tensors of shape ``normalized_shape``, or None.
    Returns:
        y, the same shape as x.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k :]) != shape:
        raise ShapeError(
            f"layer_norm: expected input whose last dimensions are {shape}, got {input.shape}\n"
            f"  at {user_line()}"
        )
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ShapeError(f"layer_norm: {what} must have shape {shape}, got {t.shape}")
    c = math.prod(shape)
    fused = _fused_group_norm(
        input, (math.prod(input.shape) // c if c else 0, c, 1), 1, weight, bias, eps
    )
    if fused is not None:
        return fused
    axes = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(axes, keepdims=True)
    xc = input - mean
    var = (xc * xc).mean(axes, keepdims=True)
    y = xc / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalisation (Wu & He): the C channels of each sample split into G groups, each
    group normalised over its channels and all spatial positions, then a per-channel affine map:

        y = (x - mean_g) / sqrt(var_g + eps) · weight[c] + bias[c]    (biased variance)

    One fused op (``ops.normalization.GroupNorm``) for float32 and float64 inputs.

    Args:
        input: x of shape (N, C, *), C divisible by G.
        num_groups: G.
        weight, bias: (C,) Tensors, or None.
    Returns:
        y, the same shape as x.
    """
    x = input
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ShapeError(
            f"group_norm: expected input of shape (N, C, *) with C divisible by num_groups "
            f"{num_groups}, got {x.shape}"
        )
    n, c = x.shape[:2]
    three = (n, c, math.prod(x.shape) // (n * c) if n * c else 0)
    fused = _fused_group_norm(x, three, num_groups, weight, bias, eps)
    if fused is not None:
        return fused
    g = x.reshape((n, num_groups, -1))
    mean = g.mean(2, keepdims=True)
    gc = g - mean
    var = (gc * gc).mean(2, keepdims=True)
    y = (gc / (var + eps).sqrt()).reshape(x.shape)
    cshape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y


def _fused_group_norm(x, three, groups, weight, bias, eps) -> Tensor | None:
    """x normalised by the fused ``GroupNorm`` op on its (N, C, S) view, with w, b as (C,);
    None (the caller composes primitives) for empty inputs and dtypes other than float32 and
    float64 throughout, whose promotion rules the composition already follows."""
    n, c, s = three
    if n * c * s == 0 or x.dtype not in (xp.float32, xp.float64):
        return None
    if any(t is not None and t.dtype != x.dtype for t in (weight, bias)):
        return None
    w = weight.reshape((c,)) if weight is not None else constant(xp.ones(c, dtype=x.dtype))
    b = bias.reshape((c,)) if bias is not None else constant(xp.zeros(c, dtype=x.dtype))
    return apply(GroupNorm(eps, groups), x.reshape(three), w, b).reshape(x.shape)
