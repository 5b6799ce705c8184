"""Spatial transformers: ``F.affine_grid`` and ``F.grid_sample`` (2-D), as PyTorch.

``affine_grid`` is theta applied to each (x, y, 1). ``grid_sample`` reads, for every output pixel,
the input at the (fractional) position its grid entry names: the position is mapped to pixel
coordinates (and clamped or reflected into the image by ``padding_mode``), then the nearest
pixel is copied or the four around it are mixed bilinearly. The pixel reads are one primitive op
(``ops/sample.py``, a gather whose adjoint is a scatter-add); everything else is elementwise ops,
so the gradients to the input and to the grid, and gradients of those, need no rule of their own.
Where PyTorch's gradient has a kink (a clamp at the border, a reflection, a pixel boundary) this
one takes the same side as PyTorch's kernel: a coordinate clamped to the border gets none.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from fractions import Fraction

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply, constant, recomputed, unwrap
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.ops.sample import GatherPixels

_ALIGN_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details."
)


def _default_align(align_corners: bool | None) -> bool:
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _base_coords(n: int, align_corners: bool, dtype: xp.dtype) -> xp.ndarray:
    """n positions spanning [-1, 1] (pixel corners) or the pixel centres inside it, in
    ``dtype`` and rounded as PyTorch's CPU kernel rounds them, so that the grid is its grid to
    the last bit: ``linspace(-1, 1, n)`` (below), then ``* (n - 1) / n`` as two roundings."""
    if n <= 1:
        return xp.zeros(max(n, 0), dtype=dtype)
    c = _linspace(n, dtype)
    if not align_corners:
        c = (c * dtype.type(n - 1)).astype(dtype) / dtype.type(n)
    return c.astype(dtype)


def _linspace(n: int, dtype: xp.dtype) -> xp.ndarray:
    """PyTorch's CPU ``linspace(-1, 1, n)``: the step rounded to ``dtype``, the first half
    counted up from -1 and the second down from 1, each value ``start + step * i`` rounded
    once (a fused multiply-add: exact in float64 for float32, exact in fractions for float64)."""
    step = dtype.type(2.0) / dtype.type(n - 1)
    i = xp.arange(n)
    up = i < n // 2
    if dtype != xp.float64:
        s64 = xp.float64(step)
        return xp.where(up, -1.0 + s64 * i, 1.0 - s64 * (n - 1 - i)).astype(dtype)
    exact = Fraction(float(step))
    return xp.array(
        [float(-1 + exact * k) if k < n // 2 else float(1 - exact * (n - 1 - k)) for k in i]
    )


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of 2-D affine maps, for ``grid_sample``.

        grid[n, i, j] = theta[n] @ (x_j, y_i, 1)

    where (x_j, y_i) are the normalised [-1, 1] coordinates of output pixel (i, j): the pixel
    centres (``align_corners=False``, the default, with a warning when not given, as PyTorch)
    or the corner pixels' centres at ±1 (``True``).

    Args:
        theta: (N, 2, 3) affine matrices (floating point).
        size: the output size (N, C, H, W).
    Returns:
        grid of shape (N, H, W, 2), (x, y) last.
    """
    align = _default_align(align_corners)
    theta = as_tensor(theta)
    size = tuple(int(s) for s in size)
    if not theta.dtype.kind == "f":
        raise TypeError(
            f"Expected theta to have floating point type, but got {theta.dtype} ({user_line()})"
        )
    if len(size) == 5:
        raise NotImplementedError(
            "affine_grid: chainrule has the 2-D form only (size (N, C, H, W)); the 3-D form for "
            f"a 5-D size {size} is not implemented ({user_line()})"
        )
    if len(size) != 4:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {size}."
        )
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(
            f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. "
            f"Got {theta.shape}."
        )
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n, _, h, w = size
    if align and min(h, w) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            UserWarning,
            stacklevel=2,
        )
    if theta.shape[0] != n:
        raise RuntimeError(
            f"affine_grid: theta holds {theta.shape[0]} matrices but size asks for a batch of "
            f"{n} ({user_line()})"
        )
    dt = theta.dtype
    xs, ys = xp.meshgrid(_base_coords(w, align, dt), _base_coords(h, align, dt))
    # x * theta[:, :, 0] + y * theta[:, :, 1] + theta[:, :, 2], rounded in this order as
    # PyTorch's batched product of the (x, y, 1) grid with theta's transpose rounds it.
    cols = [theta[:, :, k].reshape(n, 1, 1, 2) for k in range(3)]
    x, y = constant(xs[None, :, :, None]), constant(ys[None, :, :, None])
    return _fn.add(_fn.add(_fn.mul(x, cols[0]), _fn.mul(y, cols[1])), cols[2])


def _check_sample_args(x: Tensor, grid: Tensor, mode: str, padding_mode: str) -> None:
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if mode == "bicubic":
        raise NotImplementedError(
            f"grid_sample: chainrule has modes 'bilinear' and 'nearest'; 'bicubic' is not "
            f"implemented ({user_line()})"
        )
    if x.ndim != 4 or grid.ndim != 4:
        raise ShapeError(
            f"grid_sample: chainrule takes a 4-D input (N, C, H, W) and grid (N, Ho, Wo, 2), got "
            f"input {x.shape} and grid {grid.shape} (the 5-D form is not implemented)"
        )
    if x.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(x.shape)} and grid with sizes {list(grid.shape)}"
        )
    if grid.shape[-1] != 2:
        raise RuntimeError(
            "grid_sampler(): expected grid to have size 2 in last dimension, but got grid with "
            f"sizes {list(grid.shape)}"
        )
    if x.dtype != grid.dtype:
        raise RuntimeError(
            "grid_sampler(): expected input and grid to have same dtype, but input has "
            f"{x.dtype} and grid has {grid.dtype}"
        )


# Module-level helpers rather than lambdas: cr.compile recognises a recomputed function by identity.
def _strictly_inside(a: xp.ndarray, size: int) -> xp.ndarray:
    return (a > 0) & (a < size - 1)


def _floor_div(a: xp.ndarray, span: float) -> xp.ndarray:
    return xp.floor(a / span)


def _is_even(f: xp.ndarray) -> xp.ndarray:
    return f % 2 == 0


def _clip(c: Tensor, size: int) -> Tensor:
    """c clamped into [0, size - 1]; a clamped coordinate (the border included, as in
    PyTorch's kernel) takes no gradient."""
    inside = recomputed(_strictly_inside, c, size)
    return _fn.where(inside, c, recomputed(xp.clip, c, 0, size - 1))


def _reflect(c: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """c reflected off the bounds twice_low / 2 and twice_high / 2 until it lies between them
    (PyTorch's ``reflect_coordinates``): the distance past the low bound, folded by the span."""
    if twice_low == twice_high:
        return c * 0.0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    a = _fn.abs(c - low)
    flips = recomputed(_floor_div, a, span)
    extra = a - flips * span
    even = recomputed(_is_even, flips)
    return _fn.where(even, extra + low, (span + low) - extra)


def _source_coords(g: Tensor, size: int, padding_mode: str, align: bool) -> Tensor:
    """Grid values g in [-1, 1] as pixel coordinates along an axis of ``size`` pixels."""
    if align:
        c = (g + 1) / 2 * (size - 1)
    else:
        c = ((g + 1) * size - 1) / 2
    if padding_mode == "border":
        c = _clip(c, size)
    elif padding_mode == "reflection":
        c = _reflect(c, 0, 2 * (size - 1)) if align else _reflect(c, -1, 2 * size - 1)
        c = _clip(c, size)
    return c


def _corner(ix, iy, dx: int, dy: int, h: int, w: int, rnd):
    """Flat positions (N, P) of the pixels (rnd(ix) + dx, rnd(iy) + dy), clamped into the
    image, and the mask (N, P) of those that lie inside it."""
    cols = rnd(ix).astype(xp.int64) + dx
    rows = rnd(iy).astype(xp.int64) + dy
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    index = xp.clip(rows, 0, h - 1) * w + xp.clip(cols, 0, w - 1)
    n = ix.shape[0]
    return index.reshape(n, -1), inside.reshape(n, -1)


def _read(x: Tensor, ix: Tensor, iy: Tensor, dx: int, dy: int, rnd) -> Tensor:
    """x[n, :, rnd(iy) + dy, rnd(ix) + dx] for every grid point (N, Ho, Wo), 0 outside the
    image. The positions are computed through ``recomputed`` so that ``cr.compile`` recomputes
    them at every replay."""
    h, w = x.shape[2:]
    index, mask = recomputed(_corner, ix, iy, dx, dy, h, w, rnd)
    return apply(GatherPixels(unwrap(index), unwrap(mask), tuple(ix.shape[1:])), x)


def _bilinear(x: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """Σ over the 4 pixels around (ix, iy) of pixel · (1 - |ix - col|)(1 - |iy - row|)."""
    wx1 = ix - recomputed(xp.floor, ix)
    wy1 = iy - recomputed(xp.floor, iy)
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for dx, dy, wgt in ((0, 0, wx0 * wy0), (1, 0, wx1 * wy0), (0, 1, wx0 * wy1), (1, 1, wx1 * wy1)):
        term = _read(x, ix, iy, dx, dy, xp.floor) * wgt.unsqueeze(1)
        out = term if out is None else out + term
    return out


def _nearest(x: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """The pixel nearest (ix, iy), halves rounded to even (PyTorch's ``nearbyint``)."""
    out = _read(x, ix, iy, 0, 0, xp.rint)
    if ix.requires_grad:
        # The grid gets a zero gradient, as in PyTorch, rather than none at all: out - |0·ix| is
        # out exactly (x - (+0.0) keeps -0.0 too), and its backward is one sum over channels,
        # where out · (0·ix + 1) cost two products as large as out.
        out = out - (ix * 0).abs().unsqueeze(1)
    return out


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Samples x at the positions of ``grid`` (normalised: (-1, -1) is the top-left corner,
    (1, 1) the bottom-right).

    A grid value g along an axis of n pixels is the pixel coordinate

        align_corners=False (default):  ((g + 1) · n - 1) / 2   (±1 = the outer pixel edges)
        align_corners=True:             (g + 1) / 2 · (n - 1)   (±1 = the corner pixel centres)

    ``padding_mode`` says what lies outside the image: 'zeros' (reads give 0), 'border' (the
    coordinate is clamped to the image) or 'reflection' (reflected off the edges, then clamped).
    'bilinear' mixes the 4 pixels around the coordinate, 'nearest' copies the closest one.

    Args:
        input: x of shape (N, C, H, W).
        grid: (N, Ho, Wo, 2), (x, y) in the last axis, the same dtype as x.
    Returns:
        y of shape (N, C, Ho, Wo). Gradients reach x and (bilinear) the grid; with 'nearest'
        the grid's gradient is zero.
    """
    align = _default_align(align_corners)
    x, grid = as_tensor(input), as_tensor(grid)
    _check_sample_args(x, grid, mode, padding_mode)
    h, w = x.shape[2:]
    ix = _source_coords(grid[..., 0], w, padding_mode, align)
    iy = _source_coords(grid[..., 1], h, padding_mode, align)
    if mode == "nearest":
        return _nearest(x, ix, iy)
    return _bilinear(x, ix, iy)
