"""2-D convolution as im2col plus one matrix product, and its two adjoints.

Convolution (cross-correlation, as in every deep-learning framework) of x: (N, C, H, W) with a
weight w: (O, C, kh, kw), stride (sh, sw) and zero padding (ph, pw) is

    y[n, o, i, j] = Σ_{c, a, b} x_pad[n, c, i·sh + a, j·sw + b] · w[o, c, a, b]  (+ bias[o])

im2col copies every window of x_pad into one row of a matrix ``cols`` (one row per output pixel,
one column per (a, b, c)), so that the whole convolution is ``cols @ w_matᵀ``: one GEMM in BLAS.
Its gradients are two more GEMMs with the same matrices:

    dW = dYᵀ · cols             (the "weight gradient", an op of its own: ``Conv2dWeight``)
    dX = col2im(dY · w_mat)     (the "input gradient", a transposed convolution: ``Conv2dInput``)

where col2im adds each entry of a column matrix back onto the pixel it was copied from, with one
strided add per kernel offset (kh·kw of them, never a loop over pixels).

The columns are built and multiplied one chunk of images at a time (about 4 MiB of columns):
a chunk is still in cache when its product reads it. The alternative without any copy, kh·kw
GEMMs on shifted row views of the padded channels-last grid (``benchmarks/conv_shifted.py``),
was measured against this per shape (``bench_conv.py --paths``): once im2col was chunked, it
won or tied on every shape measured, forward and weight gradient, so it is the only path.

The three ops are linear in each argument and each one's VJP is written with the other two, so
the set is closed: ``Conv2d``'s backward, recorded with ``create_graph=True``, is itself made of
differentiable ops, and second derivatives (e.g. gradient penalties) work.

Memory layout. Shapes are PyTorch's (N, C, H, W), but the arrays these ops return are stored
channels-last: the memory is (N, H, W, C) and the result is its transposed view (NumPy strides,
no copy). Building the columns, and col2im, are several times faster from channels-last memory
than from (N, C, H, W) memory (each window's C values are then contiguous), and the GEMM's
(N·Ho·Wo, O) result *is* the channels-last output, so no transpose copy is made either way (the
``cnn`` workload of benchmarks/suite.py measures the step; ``bench_conv.py`` profiles each op).
Elementwise NumPy ops keep their inputs' memory order, so ReLU, batch norm and pooling
downstream stay channels-last too.
"""

from __future__ import annotations

from typing import NamedTuple

from chainrule.backend import matmul, xp
from chainrule.ops.base import Op, cross_saved


class Geometry(NamedTuple):
    """Window size (kh, kw), stride (sh, sw) and zero padding (ph, pw) of a 2-D window op."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output height and width for an input of height h and width w (floor division)."""
        return (h + 2 * self.ph - self.kh) // self.sh + 1, (
            w + 2 * self.pw - self.kw
        ) // self.sw + 1


# ----- layout helpers -----
def to_channels_last(x):
    """x (N, C, H, W) as an array with the same shape whose memory is (N, H, W, C).

    No copy when it already is; otherwise one copy. Mixing layouts in one NumPy ufunc makes its
    inner loop run over single elements, hence this normalisation.
    """
    xh = x.transpose(0, 2, 3, 1)
    if not xh.flags.c_contiguous:
        xh = xp.ascontiguousarray(xh)
    return xh.transpose(0, 3, 1, 2)


def padded_channels_last(x, ph: int, pw: int, fill: float = 0.0):
    """x (N, C, H, W) padded by ph rows and pw columns of ``fill`` on each side, as a
    (N, H + 2ph, W + 2pw, C) array (channels-last memory, contiguous unless nothing to pad)."""
    xh = x.transpose(0, 2, 3, 1)
    if not (ph or pw):
        return xh
    n, h, w, c = xh.shape
    shape = (n, h + 2 * ph, w + 2 * pw, c)
    out = xp.zeros(shape, dtype=x.dtype) if fill == 0 else xp.full(shape, fill, dtype=x.dtype)
    out[:, ph : ph + h, pw : pw + w, :] = xh
    return out


def im2col(x, geom: Geometry):
    """The windows of x as the rows of a matrix.

    Args:
        x: (N, C, H, W), any memory layout.
    Returns:
        cols: (N·Ho·Wo, kh·kw·C), row (n, i, j) holding the window under output pixel (i, j) of
        sample n, its columns ordered (a, b, c) for kernel row a, column b and channel c.
    """
    n, c, h, w = x.shape
    ho, wo = geom.out_hw(h, w)
    kh, kw, sh, sw = geom.kh, geom.kw, geom.sh, geom.sw
    xh = padded_channels_last(x, geom.ph, geom.pw)
    if c == 1:
        # One channel (a grayscale first layer): the copy below would move one float at a time;
        # built column by column instead, one whole-image slice per kernel offset (the ``cnn``
        # workload's first layer). The result is the same matrix in column-major order.
        cols = xp.empty((kh, kw, n, ho, wo), dtype=x.dtype)
        for a in range(kh):
            for b in range(kw):
                cols[a, b] = xh[
                    :, a : a + sh * (ho - 1) + 1 : sh, b : b + sw * (wo - 1) + 1 : sw, 0
                ]
        return cols.reshape(kh * kw, n * ho * wo).T
    s0, s1, s2, s3 = xh.strides
    # (N, Ho, Wo, kh, kw, C) view of the padded input: window (i, j) starts at (i·sh, j·sw).
    win = xp.lib.stride_tricks.as_strided(
        xh,
        shape=(n, ho, wo, kh, kw, c),
        strides=(s0, s1 * sh, s2 * sw, s1, s2, s3),
        writeable=False,
    )
    return xp.ascontiguousarray(win).reshape(n * ho * wo, kh * kw * c)


def col2im(dcols, x_shape: tuple[int, ...], geom: Geometry):
    """The adjoint of ``im2col``: each entry of dcols added onto the pixel it came from.

    Args:
        dcols: (N·Ho·Wo, kh·kw·C), laid out as ``im2col``'s result.
        x_shape: (N, C, H, W), the shape of the image the columns were taken from.
    Returns:
        dx: (N, C, H, W) with channels-last memory.
    """
    n, c, h, w = x_shape
    ho, wo = geom.out_hw(h, w)
    kh, kw, sh, sw, ph, pw = geom
    d = dcols.reshape(n, ho, wo, kh, kw, c)
    dxp = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=dcols.dtype)
    # One strided add per kernel offset (a, b): output pixel (i, j) took x_pad[i·sh + a, j·sw + b].
    for a in range(kh):
        for b in range(kw):
            dxp[:, a : a + sh * (ho - 1) + 1 : sh, b : b + sw * (wo - 1) + 1 : sw] += d[
                :, :, :, a, b
            ]
    return dxp[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)


def _weight_matrix(w):
    """w (O, C, kh, kw) as (O, kh·kw·C), its columns in im2col's (a, b, c) order."""
    return w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def _grad_rows(g):
    """An output gradient (N, O, Ho, Wo) as (N·Ho·Wo, O); free when g is channels-last."""
    return g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])


# im2col in chunks of images: ~4 MiB of columns at a time. One (N·Ho·Wo, kh·kw·C) matrix for the
# whole batch is larger than the caches (38 MB for the captioner's second convolution), and past
# 32 MB glibc gives it fresh pages from the kernel at every call; chunks stay in cache between
# their copy and their product and reuse freed memory. Measured (bench_conv.py's shapes, one
# thread): that convolution's forward 21 → 13 ms, its weight gradient 21 → 13 ms; the cnn's
# second convolution 8.1 → 7.0 ms; chunks of 1-2 MiB or 8+ MiB were no faster. Public: the
# captioner's memory budget (captioning/budget.py) counts this scratch.
CHUNK_BYTES = 4 << 20


def _image_chunks(x, pixels: int, geom: Geometry) -> list[tuple[int, int]]:
    """[start, stop) ranges of images whose im2col columns (``pixels`` output pixels each) fill
    about ``CHUNK_BYTES``; one range when the whole batch fits."""
    n = x.shape[0]
    per_image = pixels * geom.kh * geom.kw * x.shape[1] * x.itemsize
    step = max(1, CHUNK_BYTES // max(per_image, 1))
    return [(s, min(s + step, n)) for s in range(0, n, step)] or [(0, 0)]


def conv2d_im2col(x, w, geom: Geometry):
    """x ⋆ w as (N·Ho·Wo, O) rows (the channels-last output): im2col and one GEMM per chunk of
    images. x: (N, C, H, W), w: (O, C, kh, kw)."""
    n = x.shape[0]
    ho, wo = geom.out_hw(*x.shape[2:])
    wmat = _weight_matrix(w).T
    y = None
    for start, stop in _image_chunks(x, ho * wo, geom):
        part = matmul(im2col(x[start:stop], geom), wmat)
        if y is None and stop == n:
            return part  # one chunk: the product is the output
        if y is None:
            y = xp.empty((n * ho * wo, w.shape[0]), dtype=part.dtype)
        y[start * ho * wo : stop * ho * wo] = part
    return y


def conv2d_weight_im2col(x, g, geom: Geometry):
    """dW as (O, kh·kw·C), columns in im2col's (a, b, c) order: Σ over chunks of images of
    dYᵀ · im2col(x). x: (N, C, H, W), g: (N, O, Ho, Wo)."""
    rows = _grad_rows(g)
    per = g.shape[2] * g.shape[3]
    dw = None
    for start, stop in _image_chunks(x, per, geom):
        part = matmul(rows[start * per : stop * per].T, im2col(x[start:stop], geom))
        if dw is None:
            dw = part
        else:
            dw += part
    return dw


# ----- the raw computations -----
def conv2d(x, w, b, geom: Geometry):
    """y = x ⋆ w + b on arrays: x (N, C, H, W), w (O, C, kh, kw), b (O,) or None → (N, O, Ho, Wo).
    Computed as im2col and one GEMM per chunk of images (``conv2d_im2col``)."""
    n, _, h, wd = x.shape
    ho, wo = geom.out_hw(h, wd)
    o = w.shape[0]
    y = conv2d_im2col(x, w, geom)
    if b is not None:
        if b.dtype == y.dtype:
            y += b
        else:
            y = y + b
    return y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)


def conv2d_input(g, w, x_shape: tuple[int, ...], geom: Geometry):
    """dX = col2im(dY · w_mat): the gradient of a convolution with respect to its input (a
    transposed convolution of g by w). g: (N, O, Ho, Wo), w: (O, C, kh, kw) → (N, C, H, W).

    With stride 1 it is computed as a "full" convolution instead: dX = g_pad ⋆ w̃, g padded by
    (kh - 1 - ph, kw - 1 - pw) and w̃[c, o, a, b] = w[o, c, kh-1-a, kw-1-b] (the kernel turned by
    180° with its channel axes swapped). Same sums, but the big intermediate is im2col's copy of
    g (fast from channels-last memory) rather than a (N·Ho·Wo, kh·kw·C) product scattered back
    by col2im (the ``captioner`` workload's second convolution is such a case).
    """
    kh, kw, sh, sw, ph, pw = geom
    if sh == 1 and sw == 1 and ph < kh and pw < kw:
        full = Geometry(kh, kw, 1, 1, kh - 1 - ph, kw - 1 - pw)
        return conv2d(g, w[:, :, ::-1, ::-1].swapaxes(0, 1), None, full)
    return col2im(matmul(_grad_rows(g), _weight_matrix(w)), x_shape, geom)


def conv2d_weight(x, g, w_shape: tuple[int, ...], geom: Geometry):
    """dW = dYᵀ · cols: the gradient of a convolution with respect to its weight.
    x: (N, C, H, W), g: (N, O, Ho, Wo) → (O, C, kh, kw)."""
    o, c, kh, kw = w_shape
    dw = conv2d_weight_im2col(x, g, geom)  # (O, kh·kw·C)
    return xp.ascontiguousarray(dw.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))


def _needs_grad(op: Op, i: int) -> bool:
    # The autograd layer sets ``op.inputs`` when it records the op; an input that needs no
    # gradient (the images fed to a first layer) is spared its GEMM and col2im.
    return op.inputs is None or op.inputs[i].requires_grad


# ----- the ops -----
class Conv2d(Op):
    """y = x ⋆ w (+ b). Inputs x (N, C, H, W), w (O, C, kh, kw) and optionally b (O,).

    VJP: dX = Conv2dInput(dY, w), dW = Conv2dWeight(x, dY), db = Σ_{n,i,j} dY.
    Nothing is saved from forward: the backward rebuilds the columns from x (one channels-last
    copy), which is cheaper in memory than keeping them (kh·kw times the input's size).
    """

    name = "conv2d"
    saved = staticmethod(cross_saved)

    def __init__(self, geom: Geometry):
        self.geom = geom

    def forward(self, x, w, b=None):
        return conv2d(x, w, b, self.geom)

    def vjp(self, m, g, x, w, *rest):
        gx = m.apply(Conv2dInput(self.geom, x.shape), g, w) if _needs_grad(self, 0) else None
        gw = m.apply(Conv2dWeight(self.geom, w.shape), x, g) if _needs_grad(self, 1) else None
        if len(rest) == 1:  # (y,): no bias
            return gx, gw
        # db = Σ_{n,i,j} g as a matrix-vector product with ones, in BLAS, rather than
        # g.sum(axis=(0, 2, 3)), which reduces across the channels-last memory.
        rows = g.transpose(0, 2, 3, 1).reshape(-1, g.shape[1])
        return gx, gw, m.matmul(xp.ones(rows.shape[0], dtype=g.dtype), rows)

    def jvp(self, tx, tw, *rest):
        # Bilinear in (x, w): d(x ⋆ w) = tx ⋆ w + x ⋆ tw (+ tb).
        if len(rest) == 3:  # (x, w, y)
            x, w, _ = rest
            tb = None
        else:  # (tb, x, w, b, y)
            tb, x, w, _, _ = rest
        return conv2d(tx, w, tb, self.geom) + conv2d(x, tw, None, self.geom)


class Conv2dInput(Op):
    """dX = col2im(g · w_mat): the transposed convolution of g (N, O, Ho, Wo) by w (O, C, kh, kw),
    giving (N, C, H, W). It is the adjoint of ``Conv2d`` in x, so its VJP is a convolution:
    d/dg = Conv2d(ḡ, w), d/dw = Conv2dWeight(ḡ, g)."""

    name = "conv2d_input_grad"

    def __init__(self, geom: Geometry, x_shape: tuple[int, ...]):
        self.geom, self.x_shape = geom, tuple(x_shape)

    def forward(self, g, w):
        return conv2d_input(g, w, self.x_shape, self.geom)

    def vjp(self, m, gg, g, w, y):
        dg = m.apply(Conv2d(self.geom), gg, w) if _needs_grad(self, 0) else None
        dw = m.apply(Conv2dWeight(self.geom, w.shape), gg, g) if _needs_grad(self, 1) else None
        return dg, dw

    def jvp(self, tg, tw, g, w, y):
        return conv2d_input(tg, w, self.x_shape, self.geom) + conv2d_input(
            g, tw, self.x_shape, self.geom
        )


class Conv2dWeight(Op):
    """dW = gᵀ · im2col(x): the weight gradient of a convolution, from x (N, C, H, W) and
    g (N, O, Ho, Wo), giving (O, C, kh, kw). Its VJP: d/dx = Conv2dInput(g, w̄),
    d/dg = Conv2d(x, w̄)."""

    name = "conv2d_weight_grad"

    def __init__(self, geom: Geometry, w_shape: tuple[int, ...]):
        self.geom, self.w_shape = geom, tuple(w_shape)

    def forward(self, x, g):
        return conv2d_weight(x, g, self.w_shape, self.geom)

    def vjp(self, m, gw, x, g, y):
        dx = m.apply(Conv2dInput(self.geom, x.shape), g, gw) if _needs_grad(self, 0) else None
        dg = m.apply(Conv2d(self.geom), x, gw) if _needs_grad(self, 1) else None
        return dx, dg

    def jvp(self, tx, tg, x, g, y):
        return conv2d_weight(tx, g, self.w_shape, self.geom) + conv2d_weight(
            x, tg, self.w_shape, self.geom
        )
