"""2-D convolution (``F.conv2d``): the checks at the boundary, then one op (``ops/conv.py``)."""

from __future__ import annotations

import numpy as np

from chainrule.autograd import functions as _fn
from chainrule.autograd.function import apply
from chainrule.autograd.tensor import Tensor
from chainrule.errors import ShapeError, user_line
from chainrule.ops.conv import Conv2d as _Conv2dOp
from chainrule.ops.conv import Geometry


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of a batch of images with a filter bank.

        y[n, o, i, j] = b[o] + Σ_{c, a, b'} x_pad[n, c, i·sh + a, j·sw + b'] · w[o, c, a, b']

    where x_pad is x with ``padding`` rows/columns of zeros on each side. Computed as im2col and
    one matrix product; the backward pass is two more (see ``chainrule/ops/conv.py``), and it is
    differentiable again (gradients of gradients work).

    Args:
        input: x of shape (N, C, H, W).
        weight: w of shape (O, C, kh, kw).
        bias: b of shape (O,), or None.
        stride: (sh, sw), or one int for both.
        padding: (ph, pw) zeros added on each side of H and W, or one int for both.
    Returns:
        y of shape (N, O, Ho, Wo) with Ho = ⌊(H + 2ph - kh) / sh⌋ + 1, Wo likewise. Its memory
        is channels-last (see ``ops/conv.py``); that is invisible except in ``.data.strides``.
    Raises:
        ShapeError naming what was expected and what came, e.g. the wrong number of channels.

    Example:
        >>> x = cr.randn(8, 3, 32, 32)
        >>> w = cr.randn(16, 3, 3, 3)
        >>> F.conv2d(x, w, padding=1).shape
        (8, 16, 32, 32)
    """
    return _conv2d(input, weight, bias, stride, padding, "conv2d")


def _conv2d(x, weight, bias, stride, padding, who: str) -> Tensor:
    """``conv2d`` with errors that name ``who`` (a layer passes its own description)."""
    x = _fn._t(x)
    weight = _fn._t(weight)
    if weight.ndim != 4:
        raise ShapeError(
            f"{who}: expected a weight of shape (O, C, kh, kw), got {weight.shape}\n"
            f"  at {user_line()}"
        )
    o, c, kh, kw = weight.shape
    if x.ndim != 4:
        raise ShapeError(
            f"{who}: expected a 4-D input of shape (N, {c}, H, W), got shape {x.shape} "
            f"({x.ndim}-D)"
            + (" — add the batch axis with x.unsqueeze(0)" if x.ndim == 3 else "")
            + f"\n  at {user_line()}"
        )
    if x.shape[1] != c:
        raise ShapeError(
            f"{who}: expected input of shape (N, {c}, H, W) ({c} channel{'s' * (c != 1)}), got "
            f"{x.shape} ({x.shape[1]} channel{'s' * (x.shape[1] != 1)}). "
            f"Expect: x.shape[1] == weight.shape[1]  Actual: {x.shape[1]} != {c}\n"
            f"  at {user_line()}"
        )
    _check_float(who, "input", x)
    _check_float(who, "weight", weight)
    if bias is not None:
        bias = _fn._t(bias)
        if bias.shape != (o,):
            raise ShapeError(
                f"{who}: expected a bias of shape ({o},) for {o} output channels, got "
                f"{bias.shape}\n  at {user_line()}"
            )
    sh, sw = pair(stride, "stride", who, minimum=1)
    ph, pw = pair(padding, "padding", who, minimum=0)
    check_window(who, x.shape, (kh, kw), (ph, pw), "kernel")
    op = _Conv2dOp(Geometry(kh, kw, sh, sw, ph, pw))
    return apply(op, x, weight) if bias is None else apply(op, x, weight, bias)


def pair(v, what: str, who: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each at least ``minimum``."""
    ints = (int, np.integer)
    vs = (v, v) if isinstance(v, ints) else tuple(v) if isinstance(v, (tuple, list)) else None
    if (
        vs is None
        or len(vs) != 2
        or not all(isinstance(i, ints) and not isinstance(i, bool) for i in vs)
    ):
        raise TypeError(
            f"{who}: {what} must be an int or a pair of ints, got {v!r}\n  at {user_line()}"
        )
    vs = (int(vs[0]), int(vs[1]))
    if min(vs) < minimum:
        raise ValueError(f"{who}: {what} must be at least {minimum}, got {v!r}\n  at {user_line()}")
    return vs


def check_window(who: str, shape, k: tuple[int, int], pad: tuple[int, int], what: str) -> None:
    """Raises unless a (kh, kw) window fits inside the padded (H, W) of an input of ``shape``."""
    hp, wp = shape[2] + 2 * pad[0], shape[3] + 2 * pad[1]
    if k[0] > hp or k[1] > wp:
        raise ShapeError(
            f"{who}: the {what} {k[0]}×{k[1]} is larger than the padded input {hp}×{wp} "
            f"(input {shape}, padding {pad}); expected H + 2·ph >= {k[0]} and W + 2·pw >= "
            f"{k[1]}\n  at {user_line()}"
        )


def _check_float(who: str, what: str, t: Tensor) -> None:
    if t.dtype.kind != "f":
        raise TypeError(
            f"{who}: expected a floating-point {what}, got {t.dtype}; convert it first, e.g. "
            f"x.astype(cr.float32)\n  at {user_line()}"
        )
