"""Resizing images and sequences (``F.interpolate``): nearest, (bi)linear, bicubic and area,
as PyTorch.

Every mode is a linear map applied to each spatial axis separately, so each is written as a
constant (out, in) matrix per axis and one matrix product per axis: the gradient is the same
products transposed, with no new op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.errors import ShapeError

_MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,), "bicubic": (4,), "area": (3, 4)}


class InterpolateRankError(ShapeError, NotImplementedError):
    """An input rank that a mode does not take: a ``ShapeError`` here, and the
    ``NotImplementedError`` that PyTorch raises, so that either ``except`` catches it."""


_INTERPOLATING = ("linear", "bilinear", "bicubic")
# The cubic convolution kernel's parameter (Keys, 1981), as PyTorch's upsample_bicubic2d.
_CUBIC_A = -0.75


def _check_mode(x: Tensor, mode: str, align_corners: bool | None) -> None:
    """Refuses a mode ``interpolate`` lacks, an input of the wrong rank for it, and
    ``align_corners`` with 'nearest'."""
    if mode not in _MODES:
        raise ValueError(
            f"interpolate: mode must be one of {sorted(_MODES)}, got {mode!r} (trilinear and "
            f"nearest-exact are not implemented)"
        )
    if x.ndim not in _MODES[mode]:
        want = " or ".join(f"{r}-D" for r in _MODES[mode])
        raise InterpolateRankError(
            f"interpolate: mode {mode!r} expects a {want} input (N, C, ...), got shape {x.shape}"
        )
    if mode not in _INTERPOLATING and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
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
    antialias: bool = False,
) -> Tensor:
    """Resizes the spatial axes of x to ``size`` (or by ``scale_factor``), as PyTorch does.

    For an axis of length n resized to m, output position i reads the source coordinate

        nearest:                      src = ⌊i · r⌋ (clamped to n - 1)
        (bi)linear, align_corners=F:  src = max((i + ½) · r - ½, 0), then linear between
                                      ⌊src⌋ and ⌊src⌋ + 1 (clamped to n - 1)
        (bi)linear, align_corners=T:  src = i · (n - 1) / (m - 1)
        bicubic:                      src as (bi)linear but not clamped at 0, then the 4
                                      pixels ⌊src⌋ - 1 ... ⌊src⌋ + 2 (clamped into the image)
                                      weighted by the cubic convolution kernel, a = -0.75
        area:                         the mean of input ⌊i·n/m⌋ ... ⌈(i+1)·n/m⌉ - 1
                                      (``adaptive_avg_pool``)

    where r = n / m when ``size`` is given (or ``recompute_scale_factor``), else 1 / scale.

    Args:
        input: x of shape (N, C, L) ('nearest', 'linear', 'area') or (N, C, H, W) ('nearest',
            'bilinear', 'bicubic', 'area').
        size: the output's spatial size, one int for every axis or one per axis.
        scale_factor: a multiplier per axis (or one for all); the size is ⌊n · scale⌋.
        mode: 'nearest', 'linear', 'bilinear', 'bicubic' or 'area'.
        align_corners: for the interpolating modes only (default False): whether the corner
            pixels' centres of input and output coincide.
        antialias: False only (PyTorch's anti-aliased downsampling is not implemented).
    Returns:
        y of shape (N, C, *size).
    """
    x = as_tensor(input)
    _check_mode(x, mode, align_corners)
    if antialias:
        raise NotImplementedError(
            "interpolate: antialias=True is not implemented in chainrule; use antialias=False"
        )
    spatial = x.shape[2:]
    sizes, ratios = _sizes_and_ratios(x.shape, size, scale_factor, recompute_scale_factor)
    y = x
    for axis, (n, m, r) in enumerate(zip(spatial, sizes, ratios)):
        a = _axis_matrix(mode, n, m, r, bool(align_corners)).astype(x.dtype)
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


def _axis_matrix(mode: str, n: int, m: int, r: float, align_corners: bool) -> xp.ndarray:
    """The (m, n) matrix that resizes one axis from n to m samples in ``mode``."""
    if mode == "nearest":
        return _nearest(n, m, r, xp.float64)
    if mode == "area":
        return _area(n, m)
    if mode == "bicubic":
        return _cubic(n, m, r, align_corners)
    return _linear(n, m, r, align_corners, xp.float64)


def _nearest(n: int, m: int, r: float, dtype) -> xp.ndarray:
    """(m, n) 0/1 matrix: output i copies input ⌊i·r⌋."""
    # In float32, as PyTorch computes it, so that the same boundary cases round the same way.
    src = xp.minimum(
        xp.floor(xp.arange(m, dtype=xp.float32) * xp.float32(r)).astype(xp.int64), n - 1
    )
    a = xp.zeros((m, n), dtype=dtype)
    a[xp.arange(m), src] = 1
    return a


def _linear(n: int, m: int, r: float, align_corners: bool, dtype) -> xp.ndarray:
    """(m, n) matrix of linear interpolation weights (two per row)."""
    i = xp.arange(m, dtype=xp.float64)
    if align_corners:
        src = i * ((n - 1) / (m - 1)) if m > 1 else xp.zeros(m)
    else:
        src = xp.maximum((i + 0.5) * r - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), n - 1)
    i1 = xp.minimum(i0 + 1, n - 1)
    lam = src - i0
    a = xp.zeros((m, n), dtype=xp.float64)
    xp.add.at(a, (xp.arange(m), i0), 1 - lam)
    xp.add.at(a, (xp.arange(m), i1), lam)
    return a.astype(dtype)


def _cubic(n: int, m: int, r: float, align_corners: bool) -> xp.ndarray:
    """(m, n) matrix of cubic convolution weights: four per row, on ⌊src⌋ - 1 ... ⌊src⌋ + 2,
    indices clamped into [0, n - 1] (PyTorch's ``upsample_get_value_bounded``)."""
    i = xp.arange(m, dtype=xp.float64)
    if align_corners:
        src = i * ((n - 1) / (m - 1)) if m > 1 else xp.zeros(m)
    else:
        src = (i + 0.5) * r - 0.5  # not clamped at 0, unlike the linear modes
    base = xp.floor(src)
    t = src - base
    a = _CUBIC_A
    # Keys' kernel: |d| <= 1: (a+2)|d|³ - (a+3)|d|² + 1;  1 < |d| < 2: a|d|³ - 5a|d|² + 8a|d| - 4a
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1
    w3 = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a
    out = xp.zeros((m, n))
    rows = xp.arange(m)
    for k, wk in enumerate((w0, w1, w2, w3)):
        cols = xp.clip(base.astype(xp.int64) - 1 + k, 0, n - 1)
        xp.add.at(out, (rows, cols), wk)
    return out


def _area(n: int, m: int) -> xp.ndarray:
    """(m, n) averaging matrix of adaptive average pooling: row i is the mean of the inputs
    ⌊i·n/m⌋ ... ⌈(i+1)·n/m⌉ - 1 (windows may overlap when n is not a multiple of m)."""
    out = xp.zeros((m, n))
    for i in range(m):
        start, end = (i * n) // m, -((-(i + 1) * n) // m)
        out[i, start:end] = 1.0 / (end - start)
    return out
