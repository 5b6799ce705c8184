"""2-D max, average and adaptive average pooling (``F.max_pool2d``, ``F.avg_pool2d``,
``F.adaptive_avg_pool2d``)."""

from __future__ import annotations

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply, constant
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.conv import _check_float, check_window, pair, single
from chainrule.ops.conv import Geometry
from chainrule.ops.pool import AvgPool2d as _AvgPool2dOp
from chainrule.ops.pool import MaxPool2d as _MaxPool2dOp


def max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The largest value of each (kh, kw) window, moved by ``stride`` over each channel.

        y[n, c, i, j] = max_{a, b} x_pad[n, c, i·sh + a, j·sw + b]

    with x_pad padded by -∞. The gradient of each window goes to ONE position, its first maximum
    in row-major order (as PyTorch): tied maxima — common on flat image backgrounds — do not
    share it. Where windows overlap (stride < kernel) a pixel collects the gradients of every
    window that chose it.

    Args:
        input: x of shape (N, C, H, W).
        kernel_size: (kh, kw), or one int for both.
        stride: (sh, sw), one int, or None for the kernel size (non-overlapping windows).
        padding: (ph, pw) on each side, at most half the kernel size.
    Returns:
        y of shape (N, C, Ho, Wo), Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise.

    Example:
        >>> F.max_pool2d(cr.randn(8, 16, 28, 28), 2).shape
        (8, 16, 14, 14)
    """
    return pool2d_named(_MaxPool2dOp, input, kernel_size, stride, padding, "max_pool2d")


def avg_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The mean of each (kh, kw) window, moved by ``stride`` over each channel.

        y[n, c, i, j] = 1/(kh·kw) Σ_{a, b} x_pad[n, c, i·sh + a, j·sw + b]

    with x_pad padded by zeros that count in the mean (PyTorch's default,
    ``count_include_pad=True``). The gradient spreads g / (kh·kw) over each window.

    Args:
        input: x of shape (N, C, H, W).
        kernel_size: (kh, kw), or one int for both.
        stride: (sh, sw), one int, or None for the kernel size.
        padding: (ph, pw) on each side, at most half the kernel size.
    Returns:
        y of shape (N, C, Ho, Wo), Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise.
    """
    return pool2d_named(_AvgPool2dOp, input, kernel_size, stride, padding, "avg_pool2d")


def pool2d_named(op_class, x, kernel_size, stride, padding, who: str) -> Tensor:
    """Checks the arguments of a 2-D pooling call (errors naming ``who``: ``nn.MaxPool2d`` and
    ``nn.AvgPool2d`` pass themselves) and applies ``op_class`` (``ops.pool.MaxPool2d`` or
    ``AvgPool2d``) to x (N, C, H, W), giving (N, C, Ho, Wo)."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ShapeError(
            f"{who}: expected a 4-D input of shape (N, C, H, W), got shape {x.shape} "
            f"({x.ndim}-D)" + (" — add the batch axis with x.unsqueeze(0)" if x.ndim == 3 else "")
        )
    _check_float(who, "input", x)
    kh, kw = pair(kernel_size, "kernel_size", who, minimum=1)
    sh, sw = pair(kernel_size if stride is None else stride, "stride", who, minimum=1)
    ph, pw = pair(padding, "padding", who, minimum=0)
    if 2 * ph > kh or 2 * pw > kw:
        # A window made only of padding would have no value to take (PyTorch's rule too).
        raise ValueError(
            f"{who}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}\n"
            f"  at {user_line()}"
        )
    check_window(who, x.shape, (kh, kw), (ph, pw), "window")
    return apply(op_class(Geometry(kh, kw, sh, sw, ph, pw)), x)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """The mean of each of Ho × Wo bins that tile the image, whatever its size (PyTorch's bins):

        y[n, c, i, j] = mean of x[n, c, h0(i):h1(i), w0(j):w1(j)],
        h0(i) = ⌊i·H / Ho⌋,  h1(i) = ⌈(i + 1)·H / Ho⌉  (and likewise for w)

    Bins may overlap by one pixel when H is not a multiple of Ho. Computed as P_h · x · P_wᵀ
    with constant averaging matrices P (Ho, H) and P (Wo, W): two matrix products, whose
    gradient is the same two products transposed.

    Args:
        input: x of shape (N, C, H, W) or (C, H, W).
        output_size: (Ho, Wo), one int for both, or None in a place to keep that size.
    Returns:
        y of shape (N, C, Ho, Wo) (or (C, Ho, Wo)).
    """
    x = as_tensor(input)
    if x.ndim not in (3, 4):
        raise ShapeError(
            f"adaptive_avg_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
            f"shape {x.shape} ({x.ndim}-D)"
        )
    _check_float("adaptive_avg_pool2d", "input", x)
    h, w = x.shape[-2:]
    sizes = (
        (output_size, output_size) if not isinstance(output_size, (tuple, list)) else output_size
    )
    if len(sizes) != 2:
        raise TypeError(
            f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}"
        )
    ho, wo = (n if s is None else int(s) for s, n in zip(sizes, (h, w)))
    if ho <= 0 or wo <= 0 or h == 0 or w == 0:
        raise ValueError(
            f"adaptive_avg_pool2d: output_size {(ho, wo)} and the input's (H, W) {(h, w)} must "
            f"be positive\n  at {user_line()}"
        )
    if ho == wo == 1:
        # Global average, the commonest case: a mean (its backward a broadcast) is a fraction
        # of the two batched products below (2.7x PyTorch's time).
        return x.mean((-2, -1), keepdims=True)
    ph = constant(_bins(h, ho, x.dtype))
    pw = constant(_bins(w, wo, x.dtype).T)
    return _fn.matmul(ph, _fn.matmul(x, pw))


def _bins(n: int, m: int, dtype) -> xp.ndarray:
    """(m, n) matrix whose row i averages PyTorch's adaptive bin i of a length-n axis."""
    p = xp.zeros((m, n), dtype=dtype)
    for i in range(m):
        lo, hi = (i * n) // m, -((-(i + 1) * n) // m)
        p[i, lo:hi] = 1.0 / (hi - lo)
    return p


def max_pool1d(
    input: Tensor,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """The largest value of each window of k steps along L, moved by ``stride``:

        y[n, c, t] = max_a x_pad[n, c, t·s + a]      (x_pad padded by -∞)

    Runs as the 2-D max-pooling op on (N, C, 1, L), so each window's gradient goes to its first
    maximum, as in PyTorch. ``dilation`` > 1, ``ceil_mode`` and ``return_indices`` are not
    supported yet (an error says so rather than computing something else).

    Args:
        input: x of shape (N, C, L) or (C, L).
        kernel_size: k.  stride: s, or None for k.  padding: p on each side, at most k / 2.
    Returns:
        y of shape (N, C, Lo) (or (C, Lo)), Lo = ⌊(L + 2p - k) / s⌋ + 1.
    """
    return max_pool1d_named(
        input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool1d_named(
    x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, who="max_pool1d"
):
    """``max_pool1d`` (same arguments and shapes) with errors that name ``who``
    (``nn.MaxPool1d`` passes itself)."""
    x = as_tensor(x)
    if dilation not in (1, (1,)) or ceil_mode or return_indices:
        raise NotImplementedError(
            f"{who}: dilation > 1, ceil_mode=True and return_indices=True are not supported; "
            f"got dilation={dilation}, ceil_mode={ceil_mode}, return_indices={return_indices}"
        )
    if x.ndim == 2:
        return max_pool1d_named(
            x.reshape((1, *x.shape)), kernel_size, stride, padding, 1, False, False, who
        )[0]
    if x.ndim != 3:
        raise ShapeError(
            f"{who}: expected a 3-D input (N, C, L) or 2-D (C, L), got shape {x.shape} ({x.ndim}-D)"
        )
    k = single(kernel_size, "kernel_size", who, 1)
    s = k if stride is None else single(stride, "stride", who, 1)
    p = single(padding, "padding", who, 0)
    n, c, length = x.shape
    y = pool2d_named(_MaxPool2dOp, x.reshape((n, c, 1, length)), (1, k), (1, s), (0, p), who)
    return y.reshape((n, c, y.shape[3]))
