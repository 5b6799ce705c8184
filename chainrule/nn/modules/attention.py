"""Attention layers: ``MultiheadAttention`` (PyTorch's, with its parameter names and masks) and
``AdditiveAttention``, the soft attention of Show, Attend and Tell (Bahdanau's additive score).
"""

from __future__ import annotations

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply, unwrap
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.attention import attention, float_mask
from chainrule.functional.linear import linear
from chainrule.nn import init
from chainrule.nn.modules.linear import Linear, NonDynamicallyQuantizableLinear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.attention import AdditiveScore, WeightedSum


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.), PyTorch's ``nn.MultiheadAttention``:

        head_i = softmax((Q W_qiᵀ + b_qi)(K W_kiᵀ + b_ki)ᵀ / √d + M) (V W_viᵀ + b_vi)
        out = concat(head_1, ..., head_h) W_oᵀ + b_o,      d = embed_dim / num_heads

    Args:
        embed_dim: E, the size of queries and outputs.  num_heads: h (E must divide by it).
        dropout: dropout on the attention weights (training only).
        bias: learn the projection biases.
        add_bias_kv: learn one extra key and value (bias_k, bias_v) appended to the sequence.
        add_zero_attn: append a zero key and value to the sequence.
        kdim, vdim: sizes of keys and values when not E; then q/k/v_proj_weight replace
            in_proj_weight.
        batch_first: (N, L, E) when True (PyTorch's default is False: (T, N, D)), else
            (L, N, E).
    Shape (batch_first):
        query (N, L, E), key (N, S, kdim), value (N, S, vdim), or (L, E), (S, kdim), (S, vdim)
        unbatched. Returns (attn_output (N, L, E), attn_weights): (N, L, S) averaged over heads,
        (N, h, L, S) with average_attn_weights=False, None with need_weights=False.
    Masks:
        key_padding_mask (N, S): True marks a key to ignore (padding); floating masks are added.
        attn_mask (L, S) or (N·h, L, S): True marks a (query, key) pair that may NOT attend;
        floating masks are added. A query whose keys are all masked gets NaN, as in PyTorch.
    Attributes:
        in_proj_weight (3E, E) (xavier uniform), in_proj_bias (3E,) (zeros), out_proj (Linear,
        bias zeros); q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim) when
        kdim or vdim differ from E; bias_k, bias_v (1, 1, E) with add_bias_kv.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads "
                f"{num_heads}"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dt = get_default_dtype()
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(xp.empty((3 * E, E), dtype=dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(xp.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(xp.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(xp.empty((E, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(xp.empty(3 * E, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias)
        if add_bias_kv:
            self.bias_k = Parameter(xp.empty((1, 1, E), dtype=dt))
            self.bias_v = Parameter(xp.empty((1, 1, E), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: projections xavier uniform, biases zero, bias_k/bias_v xavier normal
        (out_proj.weight keeps Linear's default)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | xp.ndarray | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | xp.ndarray | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attends from each query to the keys; see the class docstring for shapes and masks.

        ``is_causal`` is a hint that ``attn_mask`` is the causal mask, as in PyTorch: the mask
        itself must be given (else a RuntimeError, as PyTorch's). Where PyTorch then trusts the
        hint and applies the causal mask in place of ``attn_mask`` (no ``key_padding_mask``
        and ``need_weights=False``) so does this; elsewhere ``attn_mask`` is used as given.
        """
        self_attention = query is key and key is value
        q_in, k_in, v_in = as_tensor(query), as_tensor(key), as_tensor(value)
        batched = self._check(q_in, k_in, v_in, key_padding_mask, attn_mask)
        if is_causal and attn_mask is None:
            raise RuntimeError(
                "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                "module method `generate_square_subsequent_mask` to create this mask."
            )
        if is_causal and key_padding_mask is None and not need_weights:
            # PyTorch hands the hint to scaled_dot_product_attention, which masks j > i.
            n_q, n_k = q_in.shape[-2], k_in.shape[-2]
            if not self.batch_first and batched:
                n_q, n_k = q_in.shape[0], k_in.shape[0]
            attn_mask = xp.triu(xp.ones((n_q, n_k), dtype=bool), k=1)
        q_in, k_in, v_in, key_padding_mask = self._to_batch_first(
            q_in, k_in, v_in, key_padding_mask, batched
        )
        N, L, E = q_in.shape
        q, k, v = self._project(q_in, k_in, v_in, self_attention)
        bias = _mask_bias(
            attn_mask, key_padding_mask, q.dtype, (N, self.num_heads, L, k_in.shape[1])
        )
        q, k, v, bias = self._split_heads(q, k, v, bias)
        out, weights = attention(q, k, v, bias, self.dropout, self.training, None)
        out = out.swapaxes(1, 2).reshape((N, L, E))  # heads concatenated
        out = self.out_proj(out)
        if not batched:
            out = out.reshape((L, E))
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)  # (N, L, S')
        if not batched:
            weights = weights.reshape(weights.shape[1:])
        return out, weights

    def _to_batch_first(self, q_in, k_in, v_in, key_padding_mask, batched: bool):
        """Query, key, value as (N, ·, features) and key_padding_mask as (N, S), whatever the
        layout given."""
        if not batched:
            q_in, k_in, v_in = (t.reshape((1, *t.shape)) for t in (q_in, k_in, v_in))
            if key_padding_mask is not None:
                key_padding_mask = as_tensor(key_padding_mask).reshape((1, -1))
        elif not self.batch_first:
            q_in, k_in, v_in = (t.swapaxes(0, 1) for t in (q_in, k_in, v_in))
        return q_in, k_in, v_in, key_padding_mask

    def _split_heads(self, q, k, v, bias):
        """Projected q (N, L, E), k, v (N, S, E) as heads (N, h, ·, d), with the extra keys of
        add_bias_kv and add_zero_attn appended and the mask bias widened to match."""
        N, L, E = q.shape
        h, d = self.num_heads, self.head_dim
        if self.bias_k is not None:
            k = _fn.cat([k, _fn.broadcast_to(self.bias_k, (N, 1, E))], axis=1)
            v = _fn.cat([v, _fn.broadcast_to(self.bias_v, (N, 1, E))], axis=1)
            bias = _pad_key(bias)
        q = q.reshape((N, L, h, d)).swapaxes(1, 2)  # (N, h, L, d)
        k = k.reshape((N, -1, h, d)).swapaxes(1, 2)  # (N, h, S', d)
        v = v.reshape((N, -1, h, d)).swapaxes(1, 2)
        if self.add_zero_attn:
            zeros = xp.zeros((N, h, 1, d), dtype=q.dtype)
            k = _fn.cat([k, zeros], axis=2)
            v = _fn.cat([v, zeros], axis=2)
            bias = _pad_key(bias)
        return q, k, v, bias

    def _project(self, q_in, k_in, v_in, self_attention: bool):
        """Q, K, V after the input projections, each (N, ·, E)."""
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        if not self._qkv_same_embed_dim:
            return (
                linear(q_in, self.q_proj_weight, bq),
                linear(k_in, self.k_proj_weight, bk),
                linear(v_in, self.v_proj_weight, bv),
            )
        w = self.in_proj_weight
        if self_attention:
            # One GEMM for all three, then split the output (PyTorch's packed path).
            qkv = linear(q_in, w, b)
            return qkv[..., :E], qkv[..., E : 2 * E], qkv[..., 2 * E :]
        return (
            linear(q_in, w[:E], bq),
            linear(k_in, w[E : 2 * E], bk),
            linear(v_in, w[2 * E :], bv),
        )

    def _check(self, q, k, v, key_padding_mask, attn_mask) -> bool:
        name = "MultiheadAttention"
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            raise ShapeError(
                f"{name}: expected query, key and value all 3-D (batched) or all 2-D (unbatched); "
                f"got {q.shape}, {k.shape}, {v.shape}"
            )
        batched = q.ndim == 3
        for what, t, n in (
            ("query", q, self.embed_dim),
            ("key", k, self.kdim),
            ("value", v, self.vdim),
        ):
            if t.shape[-1] != n:
                raise ShapeError(
                    f"{name}: {what} has {t.shape[-1]} features, expected {n}; got shape {t.shape}"
                )
        if k.shape[:-1] != v.shape[:-1]:
            raise ShapeError(
                f"{name}: key {k.shape} and value {v.shape} must agree in every axis but the last"
            )
        if batched:
            nb = 0 if self.batch_first else 1
            N, L, S = q.shape[nb], q.shape[1 - nb], k.shape[1 - nb]
            if k.shape[nb] != N:
                raise ShapeError(
                    f"{name}: query has batch size {N} but key has {k.shape[nb]} "
                    f"(batch_first={self.batch_first})"
                )
        else:
            N, L, S = 1, q.shape[0], k.shape[0]
        if key_padding_mask is not None:
            want = (N, S) if batched else (S,)
            if tuple(xp.shape(unwrap(key_padding_mask))) != want:
                raise ShapeError(
                    f"{name}: key_padding_mask must have shape {want}, got "
                    f"{tuple(xp.shape(unwrap(key_padding_mask)))}"
                )
        if attn_mask is not None:
            shape = tuple(xp.shape(unwrap(attn_mask)))
            if shape not in ((L, S), (N * self.num_heads, L, S)):
                raise ShapeError(
                    f"{name}: attn_mask must have shape {(L, S)} or "
                    f"{(N * self.num_heads, L, S)}, got {shape}"
                )
        return batched


def _mask_bias(attn_mask, key_padding_mask, dtype, shape):
    """The additive mask both masks amount to, broadcastable to the scores (N, h, L, S);
    None when there are neither."""
    N, h, L, S = shape
    bias = None
    if attn_mask is not None:
        am = float_mask(attn_mask, dtype, true_means="block", where="attn_mask")
        bias = am.reshape((1, 1, L, S)) if am.ndim == 2 else am.reshape((N, h, L, S))
    if key_padding_mask is not None:
        kpm = float_mask(key_padding_mask, dtype, true_means="block", where="key_padding_mask")
        kpm = kpm.reshape((N, 1, 1, S))
        bias = kpm if bias is None else bias + kpm
    return bias


def _pad_key(bias):
    """An additive mask (..., S) extended by one key that everyone may attend (a zero column)."""
    if bias is None:
        return None
    zeros = xp.zeros((*bias.shape[:-1], 1), dtype=bias.dtype)
    return _fn.cat([bias, zeros], axis=-1)


class AdditiveAttention(Module):
    """Soft attention with an additive score (Bahdanau et al.; Show, Attend and Tell):

        e_l = w · tanh(W_enc a_l + b_enc + W_dec h + b_dec) + b      α = softmax_l(e)
        z = Σ_l α_l a_l

    for L region features a_l (from the encoder) and the decoder state h. The score and the
    weighted sum are fused ops (``ops.attention``). In a decoding loop the projection W_enc a_l
    does not change from step to step: compute it once with ``project_features`` and pass it as
    ``projected``.

    Args:
        encoder_dim: D_enc, the size of each region feature.
        decoder_dim: D_dec, the size of the decoder state.
        attention_dim: A, the size of the joint space.
    Shape:
        features (N, L, D_enc), hidden (N, D_dec), mask (N, L) bool or None
        → context z (N, D_enc), alpha (N, L) (each row sums to 1).
    Masks:
        ``mask`` True marks a region to ignore (as MultiheadAttention's key_padding_mask); its
        weight is exactly 0. Every row needs at least one region left.
    Attributes:
        encoder_att: Linear(D_enc, A); decoder_att: Linear(D_dec, A); full_att: Linear(A, 1)
        (the names of the widely used PyTorch implementation of Show, Attend and Tell).
    Example:
        >>> att = AdditiveAttention(512, 512, 256)
        >>> feats = cr.randn(8, 49, 512)
        >>> proj = att.project_features(feats)  # once per image
        >>> z, alpha = att(feats, cr.randn(8, 512), projected=proj)  # once per word
    """

    def __init__(self, encoder_dim: int, decoder_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.encoder_dim = encoder_dim
        self.decoder_dim = decoder_dim
        self.attention_dim = attention_dim
        self.encoder_att = Linear(encoder_dim, attention_dim)
        self.decoder_att = Linear(decoder_dim, attention_dim)
        self.full_att = Linear(attention_dim, 1)

    def project_features(self, features: Tensor) -> Tensor:
        """W_enc a_l + b_enc for every region: (N, L, D_enc) → (N, L, A)."""
        f = as_tensor(features)
        if f.ndim != 3 or f.shape[-1] != self.encoder_dim:
            raise ShapeError(
                f"AdditiveAttention: expected features of shape (N, L, {self.encoder_dim}), got "
                f"{f.shape}"
            )
        return self.encoder_att(f)

    def forward(
        self,
        features: Tensor,
        hidden: Tensor,
        mask: Tensor | xp.ndarray | None = None,
        projected: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        f, h = as_tensor(features), as_tensor(hidden)
        if f.ndim != 3 or f.shape[-1] != self.encoder_dim:
            raise ShapeError(
                f"AdditiveAttention: expected features of shape (N, L, {self.encoder_dim}), got "
                f"{f.shape}"
            )
        N, L, _ = f.shape
        if h.shape != (N, self.decoder_dim):
            raise ShapeError(
                f"AdditiveAttention: expected hidden of shape ({N}, {self.decoder_dim}) for "
                f"features {f.shape}, got {h.shape}"
            )
        A = self.attention_dim
        if projected is None:
            projected = self.encoder_att(f)
        elif projected.shape != (N, L, A):
            raise ShapeError(
                f"AdditiveAttention: projected must be project_features(features) of shape "
                f"{(N, L, A)}, got {projected.shape}"
            )
        q = self.decoder_att(h)
        e = apply(AdditiveScore(), projected, q, self.full_att.weight.reshape((A,)))
        if self.full_att.bias is not None:
            e = e + self.full_att.bias  # shifts every score alike: no effect on α, kept for parity
        if mask is not None:
            blocked = xp.asarray(unwrap(mask), dtype=bool)
            if blocked.shape != (N, L):
                raise ShapeError(
                    f"AdditiveAttention: mask must have shape ({N}, {L}), got {blocked.shape}\n"
                    f"  at {user_line()}"
                )
            if blocked.all(axis=1).any():
                raise ValueError(
                    f"AdditiveAttention: mask hides every region of sample "
                    f"{int(xp.flatnonzero(blocked.all(axis=1))[0])}; each needs at least one"
                )
            e = _fn.where(blocked, -xp.inf, e)
        alpha = _fn.softmax(e, 1)
        return apply(WeightedSum(), alpha, f), alpha

    def extra_repr(self) -> str:
        return f"{self.encoder_dim}, {self.decoder_dim}, {self.attention_dim}"
