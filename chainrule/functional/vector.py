"""Vector functions with PyTorch's signatures: ``normalize``, ``cosine_similarity``, ``pad``."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.reductions import norm
from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import xp
from chainrule.ops.pad import PadConstant, PadMode


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖_p, eps) along ``dim`` (each slice scaled to unit p-norm). Any shape."""
    x = as_tensor(input)
    return x / _fn.clip(norm(x, p, dim, True), min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ x1 x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``dim`` (inputs broadcast together);
    the result lacks ``dim``."""
    a, b = as_tensor(x1), as_tensor(x2)
    na = _fn.clip(norm(a, 2, dim, True), min=eps)
    nb = _fn.clip(norm(b, 2, dim, True), min=eps)
    return _fn.sum((a / na) * (b / nb), dim)


def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pads the last ``len(pad) // 2`` dimensions, as PyTorch's ``F.pad``.

    ``pad = (left, right)`` pads the last dimension, ``(left, right, top, bottom)`` the last
    two, and so on. ``mode``: 'constant' (``value``, default 0; negative pads crop),
    'reflect' (mirrored without repeating the edge; each pad < that dimension's size) or
    'replicate' (the edge repeated). The gradient of a padded element flows to the element it
    copies.
    """
    x = as_tensor(input)
    pad = [int(v) for v in pad]
    if len(pad) % 2 or len(pad) // 2 > x._data.ndim:
        raise ValueError(
            f"pad: the padding must be pairs (left, right) for at most {x._data.ndim} dimensions "
            f"of the input, got {tuple(pad)}"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"pad: value= is only for mode='constant', got mode={mode!r}")
    for k in range(len(pad) // 2):
        dim = x._data.ndim - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        n = x._data.shape[dim]
        if mode == "constant":
            x = _constant(x, dim, lo, hi, 0.0 if value is None else float(value))
            continue
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(
                f"pad: reflect padding ({lo}, {hi}) must be smaller than dimension {dim}'s size {n}"
            )
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative padding is only for mode='constant', got {(lo, hi)}")
        if n and (mode != "circular" or max(lo, hi) <= n) and (mode != "reflect" or n > 1):
            x = apply(PadMode(dim, lo, hi, mode), x)
            continue
        i = xp.arange(-lo, n + hi)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            i = xp.abs(i) % period
            i = xp.where(i >= n, period - i, i)
        elif mode == "replicate":
            i = xp.clip(i, 0, n - 1)
        else:
            i = i % n
        x = x[(slice(None),) * dim + (i,)]
    return x


def _constant(x: Tensor, dim: int, lo: int, hi: int, value: float) -> Tensor:
    if lo < 0 or hi < 0:  # crop first
        n = x._data.shape[dim]
        x = x[(slice(None),) * dim + (slice(max(-lo, 0), n - max(-hi, 0)),)]
        lo, hi = max(lo, 0), max(hi, 0)
    if not (lo or hi):
        return x
    widths = [(0, 0)] * x._data.ndim
    widths[dim] = (lo, hi)
    return apply(PadConstant(tuple(widths), value), x)
