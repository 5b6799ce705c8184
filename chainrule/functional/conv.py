"""1-D, 2-D and transposed 2-D convolution (``F.conv1d``, ``F.conv2d``, ``F.conv_transpose2d``):
the checks at the boundary, then the ops of ``ops/conv.py``."""

from __future__ import annotations

from chainrule.autograd import autocast as _autocast
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import kind as _kind
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.vector import pad
from chainrule.ops.conv import Conv2d as _Conv2dOp
from chainrule.ops.conv import Conv2dInput as _Conv2dInputOp
from chainrule.ops.conv import Geometry


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of a batch of images with a filter bank.

        y[n, o, i, j] = b[o] + Σ_{c, a, b'} x_pad[n, g(o)·C/G + c, i·sh + a·dh, j·sw + b'·dw]
                                             · w[o, c, a, b']

    where x_pad is x with ``padding`` rows/columns of zeros on each side and g(o) the group of
    output channel o. Computed as im2col and one matrix product (per chunk of images); the
    backward pass is two more (see ``chainrule/ops/conv.py``), and it is differentiable again (gradients of gradients
    work). A dilated filter is the filter with d - 1 zeros between its taps, and groups are
    convolved one by one, so neither needs an op of its own.

    Args:
        input: x of shape (N, C, H, W).
        weight: w of shape (O, C / G, kh, kw).
        bias: b of shape (O,), or None.
        stride: (sh, sw), or one int for both.
        padding: (ph, pw) zeros added on each side of H and W, one int for both, 'valid' (0)
            or 'same' (stride 1 only; the odd zero goes right/below, as PyTorch).
        dilation: (dh, dw), or one int: the spacing between filter taps.
        groups: G, dividing C and O: input channels block g feeds only output block g.
    Returns:
        y of shape (N, O, Ho, Wo) with Ho = ⌊(H + 2ph - dh·(kh - 1) - 1) / sh⌋ + 1, Wo
        likewise. Its memory is channels-last (see ``ops/conv.py``); that is invisible except in
        ``.data.strides``.
    Raises:
        ShapeError naming what was expected and what came, e.g. the wrong number of channels.

    Example:
        >>> x = cr.randn(8, 3, 32, 32)
        >>> w = cr.randn(16, 3, 3, 3)
        >>> F.conv2d(x, w, padding=1).shape
        (8, 16, 32, 32)
    """
    return conv2d_named(input, weight, bias, stride, padding, "conv2d", dilation, groups)


def conv2d_named(x, weight, bias, stride, padding, who: str, dilation=1, groups=1) -> Tensor:
    """``conv2d`` (same arguments and shapes) with errors that name ``who``: ``nn.Conv2d`` passes
    itself, so that a message shows the layer's repr rather than ``conv2d``."""
    x = as_tensor(x)
    weight = as_tensor(weight)
    if weight.ndim != 4:
        raise ShapeError(
            f"{who}: expected a weight of shape (O, C/groups, kh, kw), got {weight.shape}\n"
            f"  at {user_line()}"
        )
    g = single(groups, "groups", who, 1)
    dh, dw = pair(dilation, "dilation", who, minimum=1)
    if g != 1 or (dh, dw) != (1, 1) or isinstance(padding, str):
        return _conv2d_general(x, weight, bias, stride, padding, (dh, dw), g, who)
    o, c, kh, kw = weight.shape
    if x.ndim != 4:
        raise ShapeError(
            f"{who}: expected a 4-D input of shape (N, {c}, H, W), got shape {x.shape} "
            f"({x.ndim}-D)" + (" — add the batch axis with x.unsqueeze(0)" if x.ndim == 3 else "")
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
        bias = as_tensor(bias)
        if bias.shape != (o,):
            raise ShapeError(
                f"{who}: expected a bias of shape ({o},) for {o} output channels, got {bias.shape}"
            )
    sh, sw = pair(stride, "stride", who, minimum=1)
    ph, pw = pair(padding, "padding", who, minimum=0)
    check_window(who, x.shape, (kh, kw), (ph, pw), "kernel")
    op = _Conv2dOp(Geometry(kh, kw, sh, sw, ph, pw))
    return apply(op, x, weight) if bias is None else apply(op, x, weight, bias)


def _conv2d_general(x, weight, bias, stride, padding, dilation, g: int, who) -> Tensor:
    """Dilated, grouped or 'same'/'valid'-padded ``conv2d``: the filter spread out with zeros,
    then one plain convolution per group, concatenated over channels."""
    o, cg, kh, kw = weight.shape
    if x.ndim == 4 and x.shape[1] != cg * g:
        raise ShapeError(
            f"{who}: expected input of shape (N, {cg * g}, H, W) ({cg * g} channels), got "
            f"{x.shape} ({x.shape[1]} channels). Expect: x.shape[1] == weight.shape[1]·groups  "
            f"Actual: {x.shape[1]} != {cg}·{g}\n  at {user_line()}"
        )
    if o % g:
        raise ValueError(f"{who}: out_channels {o} must be divisible by groups {g}")
    dh, dw = dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    if isinstance(padding, str):
        x, padding = _string_padding(x, padding, stride, span, who)
    w = weight
    if dw > 1:
        w = _dilate(w, dw)
    if dh > 1:
        w = _dilate(w.swapaxes(2, 3), dh).swapaxes(2, 3)
    if g == 1:
        return conv2d_named(x, w, bias, stride, padding, who)
    og = o // g
    parts = [
        conv2d_named(
            x[:, i * cg : (i + 1) * cg], w[i * og : (i + 1) * og], None, stride, padding, who
        )
        for i in range(g)
    ]
    y = _fn.cat(parts, axis=1)
    if bias is not None:
        y = y + as_tensor(bias).reshape((1, o, 1, 1))
    return y


def _string_padding(x, padding: str, stride, span: tuple[int, int], who):
    """x padded for ``padding`` 'valid' (nothing) or 'same' (stride 1: the output keeps H and
    W, the odd zero on the right and below, as PyTorch), and the numeric padding left (0)."""
    if padding not in ("valid", "same"):
        raise ValueError(
            f"{who}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
        )
    if padding == "same":
        if pair(stride, "stride", who, minimum=1) != (1, 1):
            raise RuntimeError(
                f"padding='same' is not supported for strided convolutions ({who}, stride {stride})"
            )
        lo_h, lo_w = (span[0] - 1) // 2, (span[1] - 1) // 2
        x = pad(x, (lo_w, span[1] - 1 - lo_w, lo_h, span[0] - 1 - lo_h))
    return x, 0


def pair(v, what: str, who: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each at least ``minimum``."""
    ints = (int, xp.integer)
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
            f"{k[1]}"
        )


def _check_float(who: str, what: str, t: Tensor) -> None:
    if _kind(t.dtype) != "f":
        raise TypeError(
            f"{who}: expected a floating-point {what}, got {t.dtype}; convert it first, e.g. "
            f"x.astype(cr.float32)\n  at {user_line()}"
        )


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch) of a batch of sequences:

        y[n, o, t] = b[o] + Σ_{c, a} x_pad[n, g(o)·C/G + c, t·s + a·d] · w[o, c, a]

    where g(o) is the group of output channel o (channels split into ``groups`` blocks, each
    filter seeing only its block). Runs as the 2-D convolution op on (N, C, 1, L); a dilated
    filter is the filter with d - 1 zeros between taps, and groups are convolved one by one and
    concatenated, so every gradient comes from the existing, gradchecked op.

    Args:
        input: x of shape (N, C, L) or (C, L).
        weight: w of shape (O, C / groups, k).
        bias: b of shape (O,), or None.
        stride, dilation: ints (or 1-tuples).
        padding: zeros on each side, or 'valid' (0) or 'same' (output length L, stride 1).
        groups: G, dividing both C and O.
    Returns:
        y of shape (N, O, Lo), Lo = ⌊(L + 2p - d·(k - 1) - 1) / s⌋ + 1.
    """
    return conv1d_named(input, weight, bias, stride, padding, dilation, groups, "conv1d")


def conv1d_named(x, weight, bias, stride, padding, dilation, groups, who) -> Tensor:
    """``conv1d`` (same arguments and shapes) with errors that name ``who`` (``nn.Conv1d``)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 3:
        raise ShapeError(
            f"{who}: expected a weight of shape (O, C/groups, k), got {weight.shape}\n"
            f"  at {user_line()}"
        )
    o, cg, k = weight.shape
    g = single(groups, "groups", who, 1)
    if x.ndim == 2:  # unbatched (C, L), as PyTorch accepts
        return conv1d_named(
            x.reshape((1, *x.shape)), weight, bias, stride, padding, dilation, g, who
        )[0]
    if x.ndim != 3:
        raise ShapeError(
            f"{who}: expected a 3-D input of shape (N, {cg * g}, L) or 2-D (C, L), got shape "
            f"{x.shape} ({x.ndim}-D)"
        )
    if x.shape[1] != cg * g:
        raise ShapeError(
            f"{who}: expected input of shape (N, {cg * g}, L) ({cg * g} channels), got "
            f"{x.shape} ({x.shape[1]} channels). Expect: x.shape[1] == weight.shape[1]·groups  "
            f"Actual: {x.shape[1]} != {cg}·{g}"
        )
    if o % g:
        raise ValueError(f"{who}: out_channels {o} must be divisible by groups {g}")
    s = single(stride, "stride", who, 1)
    d = single(dilation, "dilation", who, 1)
    span = d * (k - 1) + 1
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{who}: padding must be an int, 'valid' or 'same', got {padding!r}")
        if padding == "same" and s != 1:
            raise ValueError(f"{who}: padding='same' needs stride 1, got stride {s}")
        if padding == "same" and span > 1:
            # PyTorch puts the odd zero on the right for an even span.
            lo = (span - 1) // 2
            x = pad(x, (lo, span - 1 - lo))
        padding = 0
    p = single(padding, "padding", who, 0)
    w = _dilate(weight, d) if d > 1 else weight
    x4, w4 = x.reshape((x.shape[0], x.shape[1], 1, x.shape[2])), w.reshape((o, cg, 1, span))
    if g == 1:
        y = conv2d_named(x4, w4, bias, (1, s), (0, p), who)
    else:
        og = o // g
        parts = [
            conv2d_named(
                x4[:, i * cg : (i + 1) * cg], w4[i * og : (i + 1) * og], None, (1, s), (0, p), who
            )
            for i in range(g)
        ]
        y = _fn.cat(parts, axis=1)
        if bias is not None:
            y = y + as_tensor(bias).reshape((1, o, 1, 1))
    return y.reshape((y.shape[0], o, y.shape[3]))


def _dilate(w: Tensor, d: int) -> Tensor:
    """w (..., k) with d - 1 zeros between its taps: (..., d·(k - 1) + 1), differentiably."""
    k = w.shape[-1]
    z = _fn.zeros((*w.shape, d - 1), like=w)
    spread = _fn.cat([w.reshape((*w.shape, 1)), z], axis=-1)  # (..., k, d)
    return spread.reshape((*w.shape[:-1], k * d))[..., : d * (k - 1) + 1]


def single(v, what: str, who, minimum: int) -> int:
    """``v`` as an int at least ``minimum`` (a 1-tuple of one is taken too, as PyTorch's 1-D
    layers take them); errors name ``who`` and the argument ``what``. ``pair``'s 1-D twin."""
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if not isinstance(v, (int, xp.integer)) or isinstance(v, bool):
        raise TypeError(f"{who}: {what} must be an int, got {v!r}\n  at {user_line()}")
    if v < minimum:
        raise ValueError(f"{who}: {what} must be at least {minimum}, got {v!r}\n  at {user_line()}")
    return int(v)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """2-D transposed convolution ("deconvolution"), the adjoint of ``conv2d`` in its input:
    every input pixel scatters its value times the filter onto a stride-spaced output grid,

        y[n, o, i·s + a·d - p, j·s + b·d - p] += x[n, c, i, j] · w[c, o, a, b]   (+ b[o])

    Runs as the existing op for the input gradient of a convolution (``Conv2dInput``), whose
    own gradients are convolutions; dilation is a filter with zeros between its taps and
    groups are done one by one, so no new op is needed.

    Args:
        input: x of shape (N, C, H, W) or (C, H, W).
        weight: w of shape (C, O / groups, kh, kw) (PyTorch's layout: input channels first).
        bias: b of shape (O,), or None.
        stride, padding, output_padding, dilation: pairs or ints; output_padding adds rows and
            columns on one side and must be smaller than the stride or the dilation.
        groups: G, dividing C and O.
    Returns:
        y of shape (N, O, Ho, Wo), Ho = (H - 1)·sh - 2ph + dh·(kh - 1) + oph + 1, Wo likewise.
    """
    return conv_transpose2d_named(
        input, weight, bias, stride, padding, output_padding, groups, dilation, "conv_transpose2d"
    )


def _check_transpose_input(x, c: int, g: int, who: str) -> None:
    """Refuses an input of ``conv_transpose2d`` that is not (N, c, H, W) floats, and ``c``
    channels that ``g`` groups do not divide."""
    if x.ndim != 4:
        raise ShapeError(
            f"{who}: expected a 4-D input of shape (N, {c}, H, W) or 3-D (C, H, W), got shape "
            f"{x.shape} ({x.ndim}-D)"
        )
    if x.shape[1] != c:
        raise ShapeError(
            f"{who}: expected input of shape (N, {c}, H, W) ({c} channels), got {x.shape} "
            f"({x.shape[1]} channels). Expect: x.shape[1] == weight.shape[0]  Actual: "
            f"{x.shape[1]} != {c}"
        )
    if c % g:
        raise ValueError(f"{who}: in_channels {c} must be divisible by groups {g}")
    _check_float(who, "input", x)


def _transpose_geometry(x_shape, k_shape, og: int, s, p, op_, who: str):
    """The im2col geometry and the output shape (N, og, Ho, Wo) of a transposed convolution of
    an input (N, C, H, W) by a (dilated) kernel (kh, kw): Ho = (H - 1)·s - 2p + kh + op."""
    kh, kw = k_shape
    n, _, h, wd = x_shape
    ho = (h - 1) * s[0] - 2 * p[0] + kh + op_[0]
    wo = (wd - 1) * s[1] - 2 * p[1] + kw + op_[1]
    if ho <= 0 or wo <= 0:
        raise ShapeError(
            f"{who}: the output would be {ho}×{wo} for input {x_shape}; reduce the padding {p}"
        )
    return Geometry(kh, kw, s[0], s[1], p[0], p[1]), (n, og, ho, wo)


def conv_transpose2d_named(x, weight, bias, stride, padding, output_padding, groups, dilation, who):
    """``conv_transpose2d`` (same arguments and shapes) with errors that name ``who``
    (``nn.ConvTranspose2d``)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 4:
        raise ShapeError(
            f"{who}: expected a weight of shape (C, O/groups, kh, kw), got {weight.shape}\n"
            f"  at {user_line()}"
        )
    c, og = weight.shape[:2]
    g = single(groups, "groups", who, 1)
    if x.ndim == 3:
        y = conv_transpose2d_named(
            x.reshape((1, *x.shape)), weight, bias, stride, padding, output_padding, g,
            dilation, who,
        )  # fmt: skip
        return y[0]
    _check_transpose_input(x, c, g, who)
    s = pair(stride, "stride", who, minimum=1)
    p = pair(padding, "padding", who, minimum=0)
    op_ = pair(output_padding, "output_padding", who, minimum=0)
    d = pair(dilation, "dilation", who, minimum=1)
    for i in range(2):
        if op_[i] >= max(s[i], d[i]):
            raise ValueError(
                f"{who}: output_padding {op_} must be smaller than the stride {s} or the "
                f"dilation {d}\n  at {user_line()}"
            )
    w = weight
    if d[1] > 1:
        w = _dilate(w, d[1])
    if d[0] > 1:
        w = _dilate(w.swapaxes(2, 3), d[0]).swapaxes(2, 3)
    geom, out_shape = _transpose_geometry(x.shape, w.shape[2:], og, s, p, op_, who)
    if g == 1:
        y = apply(_Conv2dInputOp(geom, out_shape), x, w)
    else:
        # One op per group: an op object records its inputs, so it is never applied twice.
        cg = c // g
        parts = [
            apply(
                _Conv2dInputOp(geom, out_shape),
                x[:, i * cg : (i + 1) * cg],
                w[i * cg : (i + 1) * cg],
            )
            for i in range(g)
        ]
        y = _fn.cat(parts, axis=1)
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (og * g,):
            raise ShapeError(f"{who}: expected a bias of shape ({og * g},), got {bias.shape}")
        y = y + bias.reshape((1, og * g, 1, 1))
    return y


# Under CPU autocast the convolutions are on PyTorch's lower-precision list (the layers call
# the *_named forms directly, so they are the ones wrapped).
conv1d_named = _autocast.lower_precision(conv1d_named)
conv2d_named = _autocast.lower_precision(conv2d_named)
conv_transpose2d_named = _autocast.lower_precision(conv_transpose2d_named)
