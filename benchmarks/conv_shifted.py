"""The convolution path ``ops/conv.py`` measured against im2col and does not take: kh·kw
accumulating GEMMs on shifted views of the padded channels-last grid, with no window copied.

On the padded grid seen as rows (one row of C values per pixel), kernel offset (a, b) of a
stride-1 convolution is a fixed shift of a·Wp + b rows, so the output over the whole padded grid
is Y[r] = Σ_{a,b} R[r + a·Wp + b] · w[:, :, a, b]ᵀ, read back at the real pixels. ``bench_conv.py
--paths`` times it against ``ops.conv.conv2d_im2col`` per shape; tests/ops/test_conv_paths.py checks
it computes the same convolution. Before im2col was done in chunks of images it won where C > O;
since, im2col won or tied everywhere measured.
"""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.conv import CHUNK_BYTES, Geometry, padded_channels_last


def _grid_rows(x, geom: Geometry):
    """x (N, C, H, W) zero-padded, channels-last, contiguous, as rows: (N·Hp·Wp, C), and
    (Hp, Wp). Row r + a·Wp + b is the pixel at kernel offset (a, b) of the window starting at
    row r, for every r: each kernel offset is one fixed shift of the rows."""
    xh = padded_channels_last(x, geom.ph, geom.pw)
    if not xh.flags.c_contiguous:
        xh = xp.ascontiguousarray(xh)
    return xh.reshape(-1, xh.shape[3]), xh.shape[1], xh.shape[2]


def conv2d_shifted(x, w, geom: Geometry):
    """x ⋆ w for stride 1, as kh·kw accumulating GEMMs on shifted views of the padded grid.

    With R the rows of the padded channels-last grid (``_grid_rows``), the output over the whole
    padded grid is Y[r] = Σ_{a,b} R[r + a·Wp + b] · w[:, :, a, b]ᵀ; the rows of real output
    pixels (i < Ho, j < Wo) are read from it and the rest (a border of Wp - Wo columns and
    Hp - Ho rows per image) is discarded: extra arithmetic instead of an im2col copy. Done for a
    chunk of images at a time (about ``CHUNK_BYTES`` of rows and sums), which keeps the sums in
    cache across the kh·kw products: the captioner's second input gradient 23 → 16 ms.
    x: (N, C, H, W), w: (O, C, kh, kw) → (N, O, Ho, Wo) with channels-last memory.
    """
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    rows, hp, wp = _grid_rows(x, geom)
    ho, wo = hp - kh + 1, wp - kw + 1
    wt = xp.ascontiguousarray(w.transpose(2, 3, 1, 0))  # (kh, kw, C, O): BLAS-ready blocks
    offsets = [a * wp + b for a in range(kh) for b in range(kw)]
    step = max(1, CHUNK_BYTES // (hp * wp * (c + 2 * o) * rows.itemsize))
    y = xp.empty((n, ho, wo, o), dtype=rows.dtype)
    acc = xp.empty((min(step, n) * hp * wp, o), dtype=rows.dtype)
    tmp = xp.empty_like(acc)
    for start in range(0, n, step):
        stop = min(start + step, n)
        t = (stop - start) * hp * wp
        r = rows[start * hp * wp : start * hp * wp + t]
        _shifted_sum(r, wt, offsets, acc[:t], tmp[:t], y[start:stop], (hp, wp))
    return y.transpose(0, 3, 1, 2)


def _shifted_sum(r, wt, offsets: list[int], acc, tmp, out, grid_hw: tuple[int, int]) -> None:
    """out (B, Ho, Wo, O) = the real pixels of Σ_k r[shift_k] · wt[k], for the B images whose
    padded grids are the rows r (B·Hp·Wp, C); acc and tmp are (B·Hp·Wp, O) scratch."""
    hp, wp = grid_hw
    b, ho, wo, o = out.shape
    m = r.shape[0] - offsets[-1]  # the last real output pixel is row m - 1
    wt = wt.reshape(len(offsets), *wt.shape[2:])
    xp.matmul(r[:m], wt[0], out=acc[:m])
    grid = (b, hp, wp, o)
    if len(offsets) == 1:
        out[...] = acc.reshape(grid)[:, :ho, :wo]
        return
    for k in range(1, len(offsets)):
        s = offsets[k]
        xp.matmul(r[s : s + m], wt[k], out=tmp[:m])
        if k < len(offsets) - 1:
            acc[:m] += tmp[:m]
        else:  # the last sum writes the real pixels straight into the contiguous output
            xp.add(acc.reshape(grid)[:, :ho, :wo], tmp.reshape(grid)[:, :ho, :wo], out=out)


def conv2d_weight_shifted(x, g, w_shape: tuple[int, ...], geom: Geometry):
    """dW for stride 1 as one GEMM per kernel offset: dW[:, :, a, b] = G_gridᵀ · R[shift a·Wp + b],
    with G_grid the output gradient placed on the padded grid (zero off the real pixels).
    x: (N, C, H, W), g: (N, O, Ho, Wo) → (O, C, kh, kw)."""
    o, c, kh, kw = w_shape
    n, _, ho, wo = g.shape
    rows, hp, wp = _grid_rows(x, geom)
    m = rows.shape[0] - (kh - 1) * wp - (kw - 1)
    gg = xp.zeros((n, hp, wp, o), dtype=rows.dtype)
    gg[:, :ho, :wo] = g.transpose(0, 2, 3, 1)
    gt = gg.reshape(-1, o)[:m].T
    dw = xp.empty((kh, kw, o, c), dtype=rows.dtype)
    for a in range(kh):
        for b in range(kw):
            s = a * wp + b
            xp.matmul(gt, rows[s : s + m], out=dw[a, b])
    return xp.ascontiguousarray(dw.transpose(2, 3, 0, 1))
