"""Resizing images and sequences (``F.interpolate``): nearest and (bi)linear, as PyTorch.

Both modes are linear maps applied to each spatial axis separately, so each is written as a
constant (out, in) matrix per axis and one matrix product per axis: the gradient is the same
products transposed, with no new op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.errors import ShapeError

_MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}


def _check_mode(x: Tensor, mode: str, align_corners: bool | None) -> None:
    """Refuses a mode ``interpolate`` lacks, an input of the wrong rank for it, and
    ``align_corners`` with 'nearest'."""
    if mode not in _MODES:
        raise ValueError(
            f"interpolate: mode must be one of {sorted(_MODES)}, got {mode!r} (bicubic, area "
            f"and trilinear are not supported)"
        )
    if x.ndim not in _MODES[mode]:
        want = " or ".join(f"{r}-D" for r in _MODES[mode])
        raise ShapeError(
            f"interpolate: mode {mode!r} expects a {want} input (N, C, ...), got shape {x.shape}"
        )
    if mode == "nearest" and align_corners is not None:
        raise ValueError(
            "interpolate: align_corners can only be set with the linear modes "
            "('linear', 'bilinear')"
        )


def _sizes_and_ratios(shape, size, scale_factor, recompute_scale_factor):
    """The output size m of every spatial axis of an input of ``shape`` (N, C, *spatial), and
    the ratio r that maps output positions to source coordinates (n / m, or 1 / scale)."""
    spatial = shape[2:]
    k = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        sizes = _per_axis(size, k, "size")
        ratios = [n / m for n, m in zip(spatial, sizes)]
    else:
        scales = _per_axis(scale_factor, k, "scale_factor")
        sizes = [math.floor(n * s) for n, s in zip(spatial, scales)]
        ratios = (
            [n / m for n, m in zip(spatial, sizes)]
            if recompute_scale_factor
            else [1 / s for s in scales]
        )
    if min(sizes) <= 0:
        raise ValueError(
            f"interpolate: the output size {tuple(sizes)} must be positive (input {shape})"
        )
    return sizes, ratios


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resizes the spatial axes of x to ``size`` (or by ``scale_factor``), as PyTorch does.

    For an axis of length n resized to m, output position i reads the source coordinate

        nearest:                      src = ⌊i · r⌋ (clamped to n - 1)
        (bi)linear, align_corners=F:  src = max((i + ½) · r - ½, 0), then linear between
                                      ⌊src⌋ and ⌊src⌋ + 1 (clamped to n - 1)
        (bi)linear, align_corners=T:  src = i · (n - 1) / (m - 1)

    where r = n / m when ``size`` is given (or ``recompute_scale_factor``), else 1 / scale.

    Args:
        input: x of shape (N, C, L) ('nearest', 'linear') or (N, C, H, W) ('nearest',
            'bilinear').
        size: the output's spatial size, one int for every axis or one per axis.
        scale_factor: a multiplier per axis (or one for all); the size is ⌊n · scale⌋.
        mode: 'nearest', 'linear' or 'bilinear'.
        align_corners: for the linear modes only (default False): whether the corner pixels'
            centres of input and output coincide.
    Returns:
        y of shape (N, C, *size).
    """
    x = as_tensor(input)
    _check_mode(x, mode, align_corners)
    spatial = x.shape[2:]
    sizes, ratios = _sizes_and_ratios(x.shape, size, scale_factor, recompute_scale_factor)
    y = x
    for axis, (n, m, r) in enumerate(zip(spatial, sizes, ratios)):
        if mode == "nearest":
            a = _nearest(n, m, r, x.dtype)
        else:
            a = _linear(n, m, r, bool(align_corners), x.dtype)
        # Resize the axis 2 + axis: move it last, multiply by Aᵀ, move it back.
        last = y.ndim - 1
        pos = 2 + axis
        if pos != last:
            y = _fn.swapaxes(y, pos, last)
        y = _fn.matmul(y, constant(a.T))
        if pos != last:
            y = _fn.swapaxes(y, pos, last)
    return y


def _per_axis(v, k: int, what: str) -> list:
    vs = list(v) if isinstance(v, (tuple, list)) else [v] * k
    if len(vs) != k:
        raise ValueError(f"interpolate: {what} needs {k} values for {k} spatial axes, got {v!r}")
    return vs


def _nearest(n: int, m: int, r: float, dtype) -> np.ndarray:
    """(m, n) 0/1 matrix: output i copies input ⌊i·r⌋."""
    # In float32, as PyTorch computes it, so that the same boundary cases round the same way.
    src = np.minimum(
        np.floor(np.arange(m, dtype=np.float32) * np.float32(r)).astype(np.int64), n - 1
    )
    a = np.zeros((m, n), dtype=dtype)
    a[np.arange(m), src] = 1
    return a


def _linear(n: int, m: int, r: float, align_corners: bool, dtype) -> np.ndarray:
    """(m, n) matrix of linear interpolation weights (two per row)."""
    i = np.arange(m, dtype=np.float64)
    if align_corners:
        src = i * ((n - 1) / (m - 1)) if m > 1 else np.zeros(m)
    else:
        src = np.maximum((i + 0.5) * r - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = src - i0
    a = np.zeros((m, n), dtype=np.float64)
    np.add.at(a, (np.arange(m), i0), 1 - lam)
    np.add.at(a, (np.arange(m), i1), lam)
    return a.astype(dtype)
