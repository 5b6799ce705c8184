"""Loss functions with PyTorch's signatures and reductions ('mean' | 'sum' | 'none').

Cross-entropy and the binary cross-entropies are fused ops (``chainrule.ops.loss``) for numerical
stability; the others, and every reduction, are compositions of primitives.
"""

from __future__ import annotations

from chainrule.autograd import autocast as _autocast
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply, constant, recomputed
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line, warn_user
from chainrule.ops.loss import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    NllLoss,
    SmoothL1,
    SoftmaxCrossEntropy,
)

_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(name: str, reduction: str) -> None:
    """Refuses a ``reduction`` other than 'mean', 'sum' or 'none' with a ValueError naming
    ``name`` (the loss function, or the loss layer's class)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """The ``reduction`` that PyTorch's deprecated ``size_average`` / ``reduce`` flags mean
    (``torch.nn._Reduction.legacy_get_string``), with its warning; ``reduction`` itself when
    neither flag is given. Unset flags count as True: both → 'mean', reduce alone → 'sum',
    reduce=False → 'none' (whatever size_average says)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warn_user(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead."
    )
    return ret


def _reduce(loss: Tensor, reduction: str, inv_count: Tensor | None = None) -> Tensor:
    """The per-element ``loss`` reduced; 'mean' multiplies the sum by ``inv_count`` when given
    (1 / a weight sum, computed from the targets), else divides by the number of elements."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    if inv_count is not None:
        return total * inv_count
    n = loss._data.size
    # An empty batch (or every target ignored) has no mean: NaN, as in PyTorch.
    return total * (1.0 / n) if n else total * float("nan")


def _same_shape(name: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ShapeError(
            f"{name}: target shape {target.shape} differs from input shape {input.shape}; they "
            f"must be equal (reshape one of them, e.g. target.reshape({list(input.shape)}))\n"
            f"  at {user_line()}"
        )


def _float_target(target, like: Tensor) -> Tensor:
    """The target as a Tensor of the input's floating dtype (a differentiable Tensor is kept)."""
    if isinstance(target, Tensor):
        if target.dtype == like.dtype:
            return target
        if target.dtype.kind == "f":
            return target.astype(like.dtype)
        return constant(target._data.astype(like.dtype))
    return constant(xp.asarray(target, dtype=like.dtype))


def _raw(x):
    return x._data if isinstance(x, Tensor) else xp.asarray(x)


# ----- regression -----
@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def mse_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Mean squared error: l = (x - y)² elementwise, then reduced.

    Args:
        input: x of any shape.
        target: y of the same shape (it may require grad).
        size_average, reduce: PyTorch's deprecated flags, mapped to ``reduction`` with its
            warning (see ``legacy_reduction``).
        reduction: 'mean' (over all elements), 'sum' or 'none'.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("mse_loss", reduction)
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape("mse_loss", x, y)
    d = x - y
    return _reduce(d * d, reduction)


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Mean absolute error: l = |x - y| elementwise, then reduced (shapes and arguments as
    ``mse_loss``)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("l1_loss", reduction)
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape("l1_loss", x, y)
    return _reduce((x - y).abs(), reduction)


# ----- classification over C classes -----
def _check_class_shape(name: str, x: Tensor, t: xp.ndarray) -> None:
    expected = x.shape[:1] + x.shape[2:]
    if t.shape != expected:
        raise ShapeError(
            f"{name}: for input (N, C, *) = {x.shape} the target of class indices must have shape "
            f"(N, *) = {expected}, got {t.shape}"
        )


def _class_targets(name: str, C: int, t: xp.ndarray, ignore_index: int):
    """Validated class indices t: (N, *) with ignored ones set to 0, and the mask of the others."""
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    bad = (safe < 0) | (safe >= C)
    if bad.any():
        raise IndexError(
            f"{name}: target {t[bad].flat[0]} is out of bounds for {C} classes (targets must "
            f"be in 0..{C - 1}, or ignore_index={ignore_index})\n  at {user_line()}"
        )
    return safe, valid


def _class_weight(name: str, weight, C: int, dtype) -> xp.ndarray | None:
    if weight is None:
        return None
    w = _raw(weight).astype(dtype, copy=False)
    if w.shape != (C,):
        raise ShapeError(
            f"{name}: weight must have one entry per class, shape ({C},), got {w.shape}\n"
            f"  at {user_line()}"
        )
    return w


def _channel_view(w: xp.ndarray, ndim: int) -> xp.ndarray:
    """A (C,) array shaped (1, C, 1, ...) to broadcast against (N, C, *)."""
    return w.reshape((1, -1) + (1,) * (ndim - 2))


def _unbatched(name: str, x: Tensor) -> bool:
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class axis, got a scalar")
    return x.ndim == 1


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between softmax(x) over axis 1 and the targets, as one fused, stable op.

    For a class index t (with class weights w, 1 if None, and smoothing ε):

        l = -(1 - ε) w_t log p_t - (ε / C) Σ_c w_c log p_c,    p = softmax(x) over C

    and l = 0 where t == ``ignore_index``. For a probability target y (same shape as x) the
    target is first smoothed, y' = (1 - ε) y + ε / C, and l = -Σ_c w_c y'_c log p_c.

    Args:
        input: x, logits of shape (N, C), (N, C, d1, ...) or (C,).
        target: class indices of shape (N,), (N, d1, ...) or () (any integer dtype), or
            class probabilities of the input's shape (a constant here: no gradient flows to it).
        weight: (C,) rescaling of each class, or None.
        ignore_index: a class-index target that contributes neither loss nor gradient.
        reduction: 'mean' divides the sum by Σ w_t over the targets not ignored (their number
            when unweighted), as PyTorch; for probability targets by N·d1·...; 'sum'; 'none'
            gives l of shape (N, d1, ...).
        label_smoothing: ε in [0, 1].
    """
    name = "cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = as_tensor(input)
    t = _raw(target)
    single = _unbatched(name, x)
    if single:
        x = x.reshape((1,) + x.shape)
        t = t.reshape((1,) + t.shape)
    C = x.shape[1]
    w = _class_weight(name, weight, C, x.dtype)
    eps = float(label_smoothing)
    _check_ce_target(name, x, t)
    # The target weights B and 1 / Σ w_t are computed from the targets by one recorded function
    # (cr.compile recomputes them at every replay); B enters the op, not the graph.
    B, inv = recomputed(_ce_weights, t, x.shape, x.dtype, w, eps, ignore_index, name)
    loss = apply(SoftmaxCrossEntropy(B._data), x)
    if single and reduction == "none":
        return loss.reshape(())
    return _reduce(loss, reduction, inv_count=inv)


def _check_ce_target(name: str, x: Tensor, t: xp.ndarray) -> None:
    """Class indices of x's shape without C, or probabilities of x's shape."""
    if t.dtype.kind not in "iuf":
        raise TypeError(
            f"{name}: target must hold class indices (integers) or probabilities (floats), got "
            f"{t.dtype}\n  at {user_line()}"
        )
    if t.dtype.kind == "f" and t.shape != x.shape:
        raise ShapeError(
            f"{name}: a probability target must have the input's shape {x.shape}, got "
            f"{t.shape} (class indices must be integers)"
        )
    if t.dtype.kind in "iu":
        _check_class_shape(name, x, t)


def _ce_weights(t, shape, dtype, w, eps: float, ignore_index: int, name: str):
    """(B, 1 / Σ w_t): cross-entropy's target weights (see ``SoftmaxCrossEntropy``) for class
    indices or probabilities ``t``, and the factor of the 'mean' reduction (NaN for no target)."""
    C = shape[1]
    if t.dtype.kind in "iu":
        safe, valid = _class_targets(name, C, t, ignore_index)
        wt = valid.astype(dtype) if w is None else w[safe] * valid
        B = xp.zeros(shape, dtype=dtype)
        xp.put_along_axis(B, safe[:, None], ((1.0 - eps) * wt)[:, None], axis=1)
        if eps:
            # In B's dtype: a bool mask times a Python float is float64, and adding a float64
            # array to B ran the whole pass in float64 (0.9 ms on (4096, 256), most of the op).
            smooth = (eps / C) * (1.0 if w is None else _channel_view(w, len(shape)))
            B += smooth if valid.all() else smooth * valid[:, None].astype(dtype)
        count = float(wt.sum())
    else:
        y = t.astype(dtype, copy=False)
        if eps:
            y = (1.0 - eps) * y + eps / C
        B = y if w is None else y * _channel_view(w, len(shape))
        count = float(xp.prod(shape) // C)
    return B, _inverse(count, dtype)


def _inverse(count: float, dtype) -> xp.ndarray:
    # An empty batch (or every target ignored) has no mean: NaN, as in PyTorch.
    return xp.asarray(1.0 / count if count else float("nan"), dtype=dtype)


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def nll_loss(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: l = -w_t x_t, for x holding log-probabilities (``log_softmax``).

    Args:
        input: x of shape (N, C), (N, C, d1, ...) or (C,).
        target: class indices of shape (N,), (N, d1, ...) or ().
        weight: (C,) rescaling of each class, or None.
        ignore_index: a target that contributes neither loss nor gradient.
        reduction: 'mean' divides by Σ w_t over targets not ignored; 'sum'; 'none' → (N, d1, ...).
    """
    name = "nll_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(name, reduction)
    x = as_tensor(input)
    t = _raw(target)
    single = _unbatched(name, x)
    if single:
        x = x.reshape((1,) + x.shape)
        t = t.reshape((1,) + t.shape)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold class indices (integers), got {t.dtype}")
    C = x.shape[1]
    w = _class_weight(name, weight, C, x.dtype)
    _check_class_shape(name, x, t)
    # The targets and their weights w_t (0 where ignored) enter the op, not the graph.
    index, wt, inv = recomputed(_nll_weights, t, x.shape, x.dtype, w, ignore_index, name)
    loss = apply(NllLoss(index._data, wt._data), x)
    if single and reduction == "none":
        return loss.reshape(())
    return _reduce(loss, reduction, inv_count=inv)


def _nll_weights(t, shape, dtype, w, ignore_index: int, name: str):
    """(t with ignored targets set to 0, w_t with 0 where ignored, 1 / Σ w_t) for class indices
    ``t`` (see ``nll_loss``)."""
    safe, valid = _class_targets(name, shape[1], t, ignore_index)
    wt = valid.astype(dtype) if w is None else (w[safe] * valid).astype(dtype)
    return safe, wt, _inverse(float(wt.sum()), dtype)


# ----- binary classification -----
@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def binary_cross_entropy(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities: l = -w (y log x + (1 - y) log(1 - x)).

    Each log is clamped at -100 as in PyTorch, so x = 0 or 1 gives a finite loss.

    Args:
        input: x, probabilities in [0, 1], any shape.
        target: y of the same shape (it may require grad).
        weight: rescaling broadcast against x, or None.
        reduction: 'mean' (over all elements), 'sum' or 'none'.
    """
    name = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(name, reduction)
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape(name, x, y)
    if ((x._data < 0) | (x._data > 1)).any():
        raise ValueError(
            f"{name}: every element of the input must be a probability in [0, 1] (did you mean "
            f"binary_cross_entropy_with_logits?); got values in [{x._data.min()}, {x._data.max()}]"
            f"\n  at {user_line()}"
        )
    loss = apply(BinaryCrossEntropy(), x, y)
    if weight is not None:
        loss = loss * _float_target(weight, x)
    return _reduce(loss, reduction)


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def binary_cross_entropy_with_logits(
    input: Tensor,
    target,
    weight=None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight=None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(x), fused so that it is finite for any logit.

        l = -w (p y log σ(x) + (1 - y) log(1 - σ(x)))

    Args:
        input: x, logits of any shape (*, C).
        target: y of the same shape (it may require grad).
        weight: rescaling broadcast against x, or None.
        reduction: 'mean' (over all elements), 'sum' or 'none'.
        pos_weight: p, weight of the positive class, broadcast along the last axis (C,); a
            constant (no gradient flows to it).
    """
    name = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(name, reduction)
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape(name, x, y)
    pw = None
    if pos_weight is not None:
        pw = _raw(pos_weight).astype(x.dtype, copy=False)
        try:
            xp.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ShapeError(
                f"{name}: pos_weight of shape {pw.shape} does not broadcast against input "
                f"{x.shape} (give one weight per class, shape ({x.shape[-1] if x.ndim else 1},))"
            ) from None
    loss = apply(BinaryCrossEntropyWithLogits(pw), x, y)
    if weight is not None:
        loss = loss * _float_target(weight, x)
    return _reduce(loss, reduction)


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1 (Huber divided by β): with d = x - y elementwise,

        l = 0.5 d² / β   where |d| < β,   |d| - 0.5 β   elsewhere   (β = 0: |d|),

    then reduced. Shapes as ``mse_loss``; ``beta`` >= 0.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("smooth_l1_loss", reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}")
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape("smooth_l1_loss", x, y)
    if beta == 0:
        return _reduce((x - y).abs(), reduction)
    if x.shape == y.shape and x.dtype == y.dtype and x.ndim:
        return _reduce(apply(SmoothL1(float(beta)), x, y), reduction)
    d = (x - y).abs()
    return _reduce(_fn.where(d._data < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


@_autocast.full_precision  # float32 under CPU autocast (PyTorch's fp32 list)
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from the distribution whose log-probabilities
    are ``input`` (as PyTorch's: the input is log q, not q)::

        l = y (log y - x)          (0 where y = 0)       if not log_target
        l = e^y (y - x)                                  if log_target (y is log p)

    reduced by 'mean' (over all elements), 'batchmean' (the sum over the batch size, input's
    first dimension: the true KL divergence per sample), 'sum' or 'none'. Shapes: equal.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(
            f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}"
        )
    x = as_tensor(input)
    y = _float_target(target, x)
    _same_shape("kl_div", x, y)
    if log_target:
        loss = _fn.exp(y) * (y - x)
    else:
        pos = y._data > 0
        # y log y via a log of y where y > 0 only: the limit 0 at y = 0, no log 0 in the graph.
        log_y = _fn.log(_fn.where(pos, y, 1.0))
        loss = _fn.where(pos, y * (log_y - x), y * 0 - y * x)
    if reduction == "batchmean":
        n = x._data.shape[0] if x._data.ndim else 1
        return loss.sum() * (1.0 / n)
    return _reduce(loss, reduction)
