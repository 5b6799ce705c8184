"""The Transformer (Vaswani et al.) as PyTorch's ``nn.Transformer*`` classes, built from
``MultiheadAttention``, ``Linear``, ``LayerNorm`` and ``Dropout`` with PyTorch's attribute
names, so that a torch ``state_dict`` loads by name (``self_attn.in_proj_weight``,
``linear1.weight``, ``norm1.bias``, ``encoder.layers.0...``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError
from chainrule.functional.activation import gelu, relu
from chainrule.nn import init
from chainrule.nn.modules.attention import MultiheadAttention
from chainrule.nn.modules.container import ModuleList
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import LayerNorm

Mask = Tensor | xp.ndarray | None


def _activation(a: str | Callable) -> Callable:
    if a == "relu":
        return relu
    if a == "gelu":
        return gelu
    if callable(a):
        return a
    raise ValueError(f"Transformer: activation must be 'relu', 'gelu' or a callable, got {a!r}")


def _check(layer: Module, what: str, x) -> Tensor:
    """x as a Tensor, or an error naming the layer, unless it is (·, ·, E) or (·, E)."""
    x = as_tensor(x)
    e = layer.linear1.in_features
    if x.ndim not in (2, 3) or x.shape[-1] != e:
        raise ShapeError(
            f"{type(layer).__name__}: expected {what} of shape (S, N, {e}), (N, S, {e}) with "
            f"batch_first, or (S, {e}) unbatched; got {x.shape}"
        )
    return x


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and layer norm:

        post-norm (default): x = norm1(x + SA(x));        x = norm2(x + FF(x))
        norm_first=True:     x = x + SA(norm1(x));        x = x + FF(norm2(x))
        FF(x) = linear2(dropout(activation(linear1(x))))

    Args:
        d_model: E.  nhead: heads.  dim_feedforward: the hidden size of FF.
        dropout: on attention weights, inside FF and on each block's output.
        activation: 'relu', 'gelu' or a callable.  layer_norm_eps: LayerNorm's eps.
        batch_first: (N, S, E) when True; PyTorch's default False is (S, N, E).
        norm_first: pre-norm.  bias: biases in the Linear and LayerNorm layers.
    Shape:
        src (S, N, E) (or (N, S, E), or unbatched (S, E)) → the same.
    Masks:
        src_mask (S, S) or (N·nhead, S, S); src_key_padding_mask (N, S); boolean True blocks,
        floating masks are added (as MultiheadAttention).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Mask = None,
        src_key_padding_mask: Mask = None,
        is_causal: bool = False,
    ) -> Tensor:
        """``is_causal`` is PyTorch's hint that ``src_mask`` is causal: the mask must be given,
        and without a ``src_key_padding_mask`` the causal mask is applied in its place (see
        ``MultiheadAttention.forward``)."""
        x = _check(self, "src", src)
        sa = (src_mask, src_key_padding_mask, is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *sa)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, *sa))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Mask, kpm: Mask, is_causal: bool = False) -> Tensor:
        y = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(y)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's ``memory``, then a feed-forward block, each
    with a residual connection and layer norm (norm1..3; pre-norm with ``norm_first``).

    Args: as ``TransformerEncoderLayer``.
    Shape:
        tgt (T, N, E), memory (S, N, E) (batch first with ``batch_first``) → (T, N, E).
    Masks:
        tgt_mask (T, T), memory_mask (T, S), tgt_key_padding_mask (N, T),
        memory_key_padding_mask (N, S); boolean True blocks, floating masks are added.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first
        )
        self.multihead_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Mask = None,
        memory_mask: Mask = None,
        tgt_key_padding_mask: Mask = None,
        memory_key_padding_mask: Mask = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """``tgt_is_causal`` / ``memory_is_causal``: PyTorch's hints that ``tgt_mask`` /
        ``memory_mask`` are causal (see ``TransformerEncoderLayer.forward``)."""
        x = _check(self, "tgt", tgt)
        _check(self, "memory", memory)
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        ca = (memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *sa)
            x = x + self._mha_block(self.norm2(x), *ca)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, *sa))
        x = self.norm2(x + self._mha_block(x, *ca))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Mask, kpm: Mask, is_causal: bool = False) -> Tensor:
        y = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False, is_causal=is_causal
        )[0]
        return self.dropout1(y)

    def _mha_block(
        self, x: Tensor, mem: Tensor, mask: Mask, kpm: Mask, is_causal: bool = False
    ) -> Tensor:
        y = self.multihead_attn(
            x, mem, mem, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
            is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout2(y)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...), then
    ``norm`` if given. Shapes and masks: as ``TransformerEncoderLayer``.

    ``enable_nested_tensor`` and ``mask_check`` (PyTorch's fast-path switches) are accepted and
    change nothing.
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Tensor,
        mask: Mask = None,
        src_key_padding_mask: Mask = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """``is_causal``: None (the default) checks whether ``mask`` is the causal mask, as
        PyTorch's ``_detect_is_causal_mask``; True is a hint that it is (the mask must still be
        given: a RuntimeError otherwise, as PyTorch's)."""
        x = src
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(x, batch_first))
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=is_causal,
            )
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm`` if given. Shapes and masks: as
    ``TransformerDecoderLayer``."""

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Mask = None,
        memory_mask: Mask = None,
        tgt_key_padding_mask: Mask = None,
        memory_key_padding_mask: Mask = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(x, batch_first))
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """The encoder-decoder Transformer, PyTorch's ``nn.Transformer``: an encoder of
    ``num_encoder_layers`` layers and a decoder of ``num_decoder_layers``, each ending in a
    LayerNorm; every weight matrix initialised xavier uniform, as PyTorch.

    Args: d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, dropout,
        activation, custom_encoder, custom_decoder, layer_norm_eps, batch_first, norm_first,
        bias: PyTorch's, with its defaults.
    Shape:
        src (S, N, E), tgt (T, N, E) (batch first with ``batch_first``) → (T, N, E).
    Masks:
        src_mask (S, S), tgt_mask (T, T) (e.g. ``generate_square_subsequent_mask(T)``),
        memory_mask (T, S), *_key_padding_mask (N, S) or (N, T): boolean True blocks.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kw = dict(
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Mask = None,
        tgt_mask: Mask = None,
        memory_mask: Mask = None,
        src_key_padding_mask: Mask = None,
        tgt_key_padding_mask: Mask = None,
        memory_key_padding_mask: Mask = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        _check_pair(self, as_tensor(src), as_tensor(tgt))
        memory = self.encoder(
            src,
            mask=src_mask,
            src_key_padding_mask=src_key_padding_mask,
            is_causal=src_is_causal,
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above, so position i attends
        only to positions ≤ i."""
        dt = xp.dtype(dtype) if dtype is not None else get_default_dtype()
        return constant(xp.triu(xp.full((sz, sz), -xp.inf, dtype=dt), k=1))


def _seq_len(x, batch_first: bool) -> int:
    """The sequence length of src/tgt: (S, N, E), (N, S, E) with batch_first, or (S, E)."""
    shape = as_tensor(x).shape
    return shape[1] if batch_first and len(shape) == 3 else shape[0]


def _detect_is_causal_mask(mask: Mask, is_causal: bool | None, size: int) -> bool:
    """PyTorch's ``_detect_is_causal_mask``: True if the hint says so; with no hint, whether
    ``mask`` equals ``generate_square_subsequent_mask(size)`` in its own dtype."""
    if is_causal is not None or mask is None:
        return is_causal is True
    m = xp.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if m.shape != (size, size):
        return False
    blocked = xp.triu(xp.ones((size, size), dtype=bool), k=1)
    if m.dtype == bool:
        return bool(xp.array_equal(m, blocked))
    return bool(xp.all(m == xp.where(blocked, -xp.inf, 0.0).astype(m.dtype)))


def _check_pair(t: Transformer, src: Tensor, tgt: Tensor) -> None:
    """PyTorch's checks in ``Transformer.forward``: equal batches, features d_model."""
    if src.ndim == 3:
        nb = 0 if t.batch_first else 1
        if src.shape[nb] != tgt.shape[nb]:
            raise RuntimeError("the batch number of src and tgt must be equal")
    if src.shape[-1] != t.d_model or tgt.shape[-1] != t.d_model:
        raise RuntimeError("the feature number of src and tgt must be equal to d_model")
