"""Scaled dot-product attention, the core of ``MultiheadAttention``."""

from __future__ import annotations

import math

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp
from chainrule.errors import ShapeError
from chainrule.functional.dropout import dropout


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | xp.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(Q Kᵀ · scale + M) V, PyTorch's ``F.scaled_dot_product_attention``.

    Args:
        query: Q (..., L, E); key: K (..., S, E); value: V (..., S, Ev); leading axes broadcast
            (e.g. (N, heads, L, E)).
        attn_mask: broadcastable to (..., L, S). Boolean: True where a query MAY attend to a key
            (PyTorch's convention for this function; the opposite of MultiheadAttention's
            masks). Floating: added to the scores.
        dropout_p: dropout on the attention weights (always applied when > 0, as PyTorch).
        is_causal: mask out keys after the query's position (j > i); excludes attn_mask.
        scale: defaults to 1/√E.
    Returns:
        (..., L, Ev).
    """
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1]:
        raise ShapeError(
            f"scaled_dot_product_attention: expected query (..., L, E), key (..., S, E), value "
            f"(..., S, Ev); got {q.shape}, {k.shape}, {v.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(
            f"scaled_dot_product_attention: key and value must have the same length S; got key "
            f"{k.shape} and value {v.shape}"
        )
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(
                "scaled_dot_product_attention: give either attn_mask or is_causal, not both"
            )
        attn_mask = xp.tril(xp.ones((L, S), dtype=bool))
    bias = None
    if attn_mask is not None:
        bias = float_mask(attn_mask, q.dtype, true_means="keep", where="attn_mask")
    out, _ = attention(q, k, v, bias, dropout_p, True, scale)
    return out


def float_mask(mask, dtype, true_means: str, where: str) -> Tensor:
    """A mask as an additive float Tensor: booleans become 0 / -inf (``true_means`` says whether
    True keeps or blocks), floating masks pass through (a Tensor keeps its gradient)."""
    m = mask if isinstance(mask, Tensor) else constant(xp.asarray(mask))
    kind = m.dtype.kind
    if kind == "b":
        block = ~m._data if true_means == "keep" else m._data
        return constant(xp.where(block, -xp.inf, 0.0).astype(dtype))
    if kind != "f":
        raise TypeError(f"{where}: only boolean and floating masks are supported, got {m.dtype}")
    return m.astype(dtype)


def attention(q: Tensor, k: Tensor, v: Tensor, bias, dropout_p: float, training: bool, scale):
    """(softmax(Q Kᵀ · scale + bias) V, the weights): the shared arithmetic of attention.

    Q is scaled before the product, as PyTorch's multi-head attention does.
    """
    e = q.shape[-1]
    s = (1.0 / math.sqrt(e)) if scale is None else scale
    scores = _fn.matmul(q * s, _fn.swapaxes(k, -1, -2))
    if bias is not None:
        scores = scores + bias
    weights = _fn.softmax(scores, -1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, True)
    return _fn.matmul(weights, v), weights
