"""Gradient clipping (``cr.nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp


def _with_grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scales all gradients together, in place, so that their joint norm is at most ``max_norm``.

        total = ‖(‖g_1‖, ..., ‖g_k‖)‖_p   (the p-norm of all gradients as one vector)
        g_i  ← g_i · min(1, max_norm / (total + 1e-6))

    Args:
        parameters: Tensors (e.g. ``model.parameters()``) whose ``.grad`` is clipped; those
            without a gradient are skipped.
        max_norm: the largest norm allowed.
        norm_type: p; ``float('inf')`` for the largest absolute value.
        error_if_nonfinite: raise if the total norm is NaN or infinite (else the gradients are
            scaled by a NaN/inf coefficient, as PyTorch does).
    Returns:
        The total norm before clipping, a 0-d Tensor.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return _clip_norm(list(parameters), float(max_norm), float(norm_type), error_if_nonfinite)


@replayed_whole
def _clip_norm(
    parameters: list[Tensor], max_norm: float, norm_type: float, error_if_nonfinite: bool
) -> Tensor:
    # One recorded call for cr.compile: the norm is a Python number computed from the gradients.
    params = _with_grads(parameters)
    if not params:
        return constant(xp.array(0.0))
    dtype = params[0].grad.dtype
    if math.isinf(norm_type):
        total = max(float(xp.abs(p.grad._data).max(initial=0.0)) for p in params)
    else:
        acc = sum(
            float((xp.abs(p.grad._data.astype(xp.float64)) ** norm_type).sum()) for p in params
        )
        total = acc ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
            "set error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for p in params:
            p.grad._data *= xp.asarray(coef, dtype=p.grad.dtype)
    return constant(xp.array(total, dtype=dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clips every gradient element, in place, to [-clip_value, clip_value]."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    _clip_value(list(parameters), float(clip_value))


@replayed_whole
def _clip_value(parameters: list[Tensor], c: float) -> None:
    for p in _with_grads(parameters):
        xp.clip(p.grad._data, -c, c, out=p.grad._data)
