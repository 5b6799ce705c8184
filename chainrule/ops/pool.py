"""2-D max and average pooling over windows, with their adjoints.

A pooling window of size (kh, kw) moves with stride (sh, sw) over x: (N, C, H, W) padded by
(ph, pw). Each op works with one strided view of the input per kernel offset (a, b) — the
(N, Ho, Wo, C) array of the pixels at offset (a, b) in every window — so that a k×k pool is k²
whole-array NumPy operations, never a loop over pixels; overlapping windows (stride < kernel)
need nothing special except that their gradients are *added* where windows share a pixel.

Like convolution (``ops/conv.py``), results are stored channels-last: the memory is
(N, H, W, C) and the returned (N, C, H, W) array is its transposed view, so that a pooling
layer between two convolutions copies nothing to change layout. The reshape-based alternative
for non-overlapping windows (``x.reshape(N, Ho, 2, Wo, 2, C)``, then reductions over the window
axes) was slower for both the max with indices and the average, so the strided-view code serves
both cases (the ``cnn`` workload of benchmarks/suite.py measures it; ``bench_conv.py`` per op). Non-overlapping windows get two shortcuts in the backward: the gradient
is written rather than added, and where the windows tile the image nothing is zeroed first.

Max pooling sends each window's gradient to ONE position, the first maximum in row-major order
within the window (as PyTorch): where several pixels tie (flat backgrounds make that common)
only the first gets it. ``Max`` (the reduction) shares the gradient among ties instead; here
that would not be PyTorch's gradient.
"""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.base import Op
from chainrule.ops.conv import Geometry, padded_channels_last, to_channels_last


def _offset_views(xh, geom: Geometry, ho: int, wo: int) -> list:
    """For each kernel offset (a, b) in row-major order, the (N, Ho, Wo, C) strided view of the
    padded channels-last image xh holding the pixel at that offset in every window."""
    sh, sw = geom.sh, geom.sw
    return [
        xh[:, a : a + sh * (ho - 1) + 1 : sh, b : b + sw * (wo - 1) + 1 : sw]
        for a in range(geom.kh)
        for b in range(geom.kw)
    ]


def _overlapping(geom: Geometry) -> bool:
    return geom.sh < geom.kh or geom.sw < geom.kw


def _rows(g):
    """A pooled gradient (N, C, Ho, Wo) as a contiguous (N, Ho, Wo, C) array."""
    return to_channels_last(g).transpose(0, 2, 3, 1)


def _scatter(gh, x_shape, geom: Geometry, idx=None):
    """dx (N, C, H, W), channels-last: gh (N, Ho, Wo, C) put on the pixels of every window —
    with ``idx`` only on the pixel at offset ``idx`` of each window (max pooling), else on all of
    them (average pooling) — and added up where windows overlap."""
    n, c, h, w = x_shape
    ho, wo = geom.out_hw(h, w)
    ph, pw = geom.ph, geom.pw
    overlap = _overlapping(geom)
    # Windows that tile the image exactly write every pixel once: no zeroing needed.
    tiles = (geom.kh, geom.kw, ph, pw) == (geom.sh, geom.sw, 0, 0) and (h, w) == (
        ho * geom.kh,
        wo * geom.kw,
    )
    alloc = xp.empty if tiles else xp.zeros
    dxp = alloc((n, h + 2 * ph, w + 2 * pw, c), dtype=gh.dtype)
    for t, view in enumerate(_offset_views(dxp, geom, ho, wo)):
        if idx is None:
            if overlap:
                view += gh
            else:
                view[...] = gh
        elif overlap:
            view += (idx == t) * gh
        else:
            xp.multiply(idx == t, gh, out=view)  # each pixel lies in at most one window
    return dxp[:, ph : ph + h, pw : pw + w].transpose(0, 3, 1, 2)


# ----- max pooling -----
def max_pool2d(x, geom: Geometry):
    """The max of each window, and which offset held it.

    Args:
        x: (N, C, H, W), floating point.
    Returns:
        y: (N, C, Ho, Wo), channels-last memory;
        idx: (N, Ho, Wo, C) integers, the row-major offset a·kw + b of the first maximum.
    """
    h, w = x.shape[2:]
    ho, wo = geom.out_hw(h, w)
    xh = padded_channels_last(to_channels_last(x), geom.ph, geom.pw, fill=-xp.inf)
    views = _offset_views(xh, geom, ho, wo)
    y = views[0].copy()
    idx = xp.zeros(y.shape, dtype=xp.uint8 if len(views) <= 256 else xp.int32)
    for t in range(1, len(views)):
        v = views[t]
        # Strictly greater: on a tie the earlier offset keeps the window (PyTorch's rule).
        gt = xp.greater(v, y)
        xp.maximum(y, v, out=y)
        # idx = where(gt, t, idx), in wrap-around integer arithmetic: branch-free, whereas a
        # masked store on a random mask (np.putmask, np.where) mispredicts per element.
        idx += gt * (t - idx)
    return y.transpose(0, 3, 1, 2), idx


def max_pool2d_scatter(g, idx, x_shape, geom: Geometry):
    """The gradient of max pooling: each window's g (N, C, Ho, Wo) put on its argmax pixel
    (added up where overlapping windows chose the same pixel). Returns (N, C, H, W)."""
    return _scatter(_rows(g), x_shape, geom, idx)


def max_pool2d_scatter_add(dx, gh, idx, geom: Geometry) -> None:
    """dx (N, C, H, W) += each window's gh (N, Ho, Wo, C) on its argmax pixel, in place, for
    windows without padding (``BatchNormMaxPool2d``'s backward adds them onto BN's terms)."""
    ho, wo = idx.shape[1:3]
    for t, view in enumerate(_offset_views(dx.transpose(0, 2, 3, 1), geom, ho, wo)):
        view += (idx == t) * gh


def max_pool2d_gather(a, idx, geom: Geometry):
    """The adjoint of ``max_pool2d_scatter``: a (N, C, H, W) read at each window's argmax pixel
    (the values max pooling would have picked from x), giving (N, C, Ho, Wo)."""
    h, w = a.shape[2:]
    ho, wo = geom.out_hw(h, w)
    ah = padded_channels_last(to_channels_last(a), geom.ph, geom.pw)
    out = xp.zeros(idx.shape, dtype=a.dtype)
    for t, v in enumerate(_offset_views(ah, geom, ho, wo)):
        out += (idx == t) * v
    return out.transpose(0, 3, 1, 2)


class MaxPool2d(Op):
    """y = the max of each window of x (N, C, H, W) → (N, C, Ho, Wo).

    Saves the argmax offsets of every window (one byte per output element); the VJP puts each
    window's gradient there, once (``MaxPool2dScatter``).
    """

    name = "max_pool2d"
    saves = ()  # the argmax offsets, kept on the op

    def __init__(self, geom: Geometry):
        self.geom = geom
        self.idx = None

    def forward(self, x):
        y, self.idx = max_pool2d(x, self.geom)
        return y

    def vjp(self, m, g, x, y):
        return (m.apply(MaxPool2dScatter(self.geom, self.idx, x.shape), g),)

    def jvp(self, t, x, y):
        return max_pool2d_gather(t, self.idx, self.geom)


class MaxPool2dScatter(Op):
    """The backward of max pooling as an op of its own (linear in g), so that it can be
    differentiated again: its VJP gathers at the same argmax pixels."""

    name = "max_pool2d_backward"

    def __init__(self, geom: Geometry, idx, x_shape: tuple[int, ...]):
        self.geom, self.idx, self.x_shape = geom, idx, tuple(x_shape)

    def forward(self, g):
        return max_pool2d_scatter(g, self.idx, self.x_shape, self.geom)

    def vjp(self, m, gg, g, y):
        return (m.apply(MaxPool2dGather(self.geom, self.idx), gg),)

    def jvp(self, t, g, y):
        return max_pool2d_scatter(t, self.idx, self.x_shape, self.geom)


class MaxPool2dGather(Op):
    """a read at saved argmax pixels (the adjoint of ``MaxPool2dScatter``)."""

    name = "max_pool2d_gather"

    def __init__(self, geom: Geometry, idx):
        self.geom, self.idx = geom, idx

    def forward(self, a):
        return max_pool2d_gather(a, self.idx, self.geom)

    def vjp(self, m, gg, a, y):
        return (m.apply(MaxPool2dScatter(self.geom, self.idx, a.shape), gg),)

    def jvp(self, t, a, y):
        return max_pool2d_gather(t, self.idx, self.geom)


# ----- average pooling -----
def avg_pool2d(x, geom: Geometry):
    """The mean of each window of x (N, C, H, W), zero padding counted (PyTorch's default
    ``count_include_pad=True``): always the sum divided by kh·kw. Returns (N, C, Ho, Wo)."""
    h, w = x.shape[2:]
    ho, wo = geom.out_hw(h, w)
    xh = padded_channels_last(to_channels_last(x), geom.ph, geom.pw)
    views = _offset_views(xh, geom, ho, wo)
    y = views[0].copy()
    for v in views[1:]:
        y += v
    y *= 1.0 / len(views)
    return y.transpose(0, 3, 1, 2)


def avg_pool2d_scatter(g, x_shape, geom: Geometry):
    """The gradient of average pooling: g (N, C, Ho, Wo) / (kh·kw) spread over each window
    (added where windows overlap). Returns (N, C, H, W)."""
    gh = _rows(g) * (1.0 / (geom.kh * geom.kw))
    return _scatter(gh, x_shape, geom)


class AvgPool2d(Op):
    """y = the mean of each window of x (N, C, H, W) → (N, C, Ho, Wo). Linear: its VJP is
    ``AvgPool2dScatter`` and that one's is this op again."""

    name = "avg_pool2d"
    saves = ()

    def __init__(self, geom: Geometry):
        self.geom = geom

    def forward(self, x):
        return avg_pool2d(x, self.geom)

    def vjp(self, m, g, x, y):
        return (m.apply(AvgPool2dScatter(self.geom, x.shape), g),)

    def jvp(self, t, x, y):
        return avg_pool2d(t, self.geom)


class AvgPool2dScatter(Op):
    """The backward of average pooling as an op (the adjoint of ``AvgPool2d``)."""

    name = "avg_pool2d_backward"

    def __init__(self, geom: Geometry, x_shape: tuple[int, ...]):
        self.geom, self.x_shape = geom, tuple(x_shape)

    def forward(self, g):
        return avg_pool2d_scatter(g, self.x_shape, self.geom)

    def vjp(self, m, gg, g, y):
        return (m.apply(AvgPool2d(self.geom), gg),)

    def jvp(self, t, g, y):
        return avg_pool2d_scatter(t, self.x_shape, self.geom)
