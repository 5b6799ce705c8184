"""The image captioner: a small CNN encoder, an LSTM decoder with soft attention over the image's
regions (Show, Attend and Tell, Xu et al. 2015), and the no-attention baseline (Show and Tell,
Vinyals et al. 2015).

Both decoders share one interface, which training (teacher forcing) and decoding (greedy, beam
search) are written against:

* ``encode(images (N, 1, H, W)) -> features (N, L, D)``: the L = h·w region features;
* ``init_state(features) -> state``: the decoder's initial (h, c) and anything it precomputes;
* ``step(tokens (N,), state, features) -> (logits (N, V), state, alpha (N, L) or None)``: one word;
* ``forward(images, inputs (N, T)) -> (logits (N, T, V), alphas (N, T, L) or None)``: a whole
  teacher-forced caption, ``inputs`` being ``<start>`` followed by the caption shifted right.

Example:
    >>> model = Captioner(vocab_size=46, attention=True)
    >>> logits, alphas = model(images, inputs)     # (N, T, 46), (N, T, 64)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from chainrule import nn
from chainrule.autograd.creation import from_numpy
from chainrule.autograd.shape import cat, stack
from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError
from chainrule.models.blocks import run_sequential


@dataclass(frozen=True)
class CaptionerConfig:
    """The sizes that define a captioner (stored in its checkpoint, to rebuild it).

    Attributes:
        vocab_size: V, the number of tokens (Fashion Scenes: 46).
        attention: soft attention over regions (True) or Show and Tell (False).
        channels: output channels of the encoder's three stages; the last is D.
        image_size: H = W of the input images (64); the grid is image_size / 8 per side.
        embed_dim: E, the word embedding size.
        hidden_dim: H, the LSTM's hidden size.
        attention_dim: A, the additive attention's inner size.
        dropout: dropout before the output layer.
    """

    vocab_size: int
    attention: bool = True
    channels: tuple[int, ...] = (16, 32, 64)
    image_size: int = 64
    embed_dim: int = 64
    hidden_dim: int = 256
    attention_dim: int = 128
    dropout: float = 0.3

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CaptionerConfig:
        """The config that ``to_dict`` wrote, every value checked (it comes from a file).

        Raises:
            ValueError: ``d`` is not a dict, lacks ``vocab_size``, has a key that is not a
                field, or a value of the wrong type or range; the message names the key.
        """
        if not isinstance(d, dict):
            raise ValueError(f"the config must be a dict, got {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            raise ValueError(f"unknown config key {unknown[0]!r}; a captioner's are {names}")
        if "vocab_size" not in d:
            raise ValueError("the config has no 'vocab_size'")
        d = dict(d)
        for key in ("vocab_size", "image_size", "embed_dim", "hidden_dim", "attention_dim"):
            if key in d and not _count(d[key]):
                raise ValueError(f"config {key!r} must be a whole number >= 1, got {d[key]!r}")
        if d.get("image_size", 8) % 8:
            raise ValueError(f"config 'image_size' must be a multiple of 8, got {d['image_size']}")
        if "attention" in d and not isinstance(d["attention"], bool):
            raise ValueError(f"config 'attention' must be true or false, got {d['attention']!r}")
        dropout = d.get("dropout", 0.0)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not (0 <= dropout < 1)
        ):
            raise ValueError(f"config 'dropout' must be a number in [0, 1), got {dropout!r}")
        if "channels" in d:
            c = d["channels"]
            if not isinstance(c, list) or len(c) != 3 or not all(map(_count, c)):
                raise ValueError(f"config 'channels' must be 3 whole numbers >= 1, got {c!r}")
            d["channels"] = tuple(c)
        return cls(**d)

    def key_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shapes of the tensors that fix each size of the captioner (V and E, H, the three
        stage widths, A, and the feature size D, which fixes image_size): a checkpoint's
        tensors are checked against these before a model is built from its config, so that a
        config claiming hidden_dim 3000 costs nothing. Names as in ``state_dict()``."""
        c1, c2, c3 = self.channels
        g = self.image_size // 8
        d = c3 + 2 * g
        shapes = {
            "decoder.embedding.weight": (self.vocab_size, self.embed_dim),
            "decoder.cell.weight_hh": (4 * self.hidden_dim, self.hidden_dim),
            "encoder.cnn.0.weight": (c1, 1, 4, 4),
            "encoder.cnn.3.weight": (c2, c1, 3, 3),
            "encoder.cnn.7.weight": (c3, c2, 3, 3),
        }
        if self.attention:
            shapes["decoder.attention.encoder_att.weight"] = (self.attention_dim, d)
        else:
            shapes["decoder.image_fc.weight"] = (self.hidden_dim, g * g * d)
        return shapes


def _count(value) -> bool:
    """Whether ``value`` is a whole number >= 1 (and not a bool, JSON's true)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class Encoder(nn.Module):
    """A three-stage CNN: an image (N, 1, H, W) to a grid of region features (N, L, D).

    Stage 1 is a 4×4 convolution with stride 2 (H → H/2; cheaper than a 3×3 convolution at full
    resolution followed by pooling, which this small input does not need); stages 2 and 3 are a
    3×3 convolution and a 2×2 max-pool. Each convolution is followed by BatchNorm and ReLU. A
    64×64 image gives an 8×8 grid, L = 64 regions of 8×8 pixels. Each region's feature is the CNN's
    C = channels[-1] values followed by its row and its column, one-hot (2g values for a g×g
    grid): convolutions are translation-equivariant, and a decoder must say *where* the item it
    looks at is. With attention, the context Σ_l α_l f_l then carries the attended rows and
    columns as a distribution, from which "top left" is one linear map away.

    Shape:
        images (N, 1, H, W) → features (N, L, D), L = g², g = H/8, D = channels[-1] + 2g.
    """

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64), image_size: int = 64) -> None:
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"Encoder: expected 3 stage widths, got {channels}")
        if image_size % 8:
            raise ValueError(f"Encoder: image_size must be a multiple of 8, got {image_size}")
        c1, c2, c3 = channels
        self.cnn = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1),
            nn.BatchNorm2d(c3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.image_size = image_size
        self.grid = image_size // 8
        self.num_regions = self.grid * self.grid
        self.feature_dim = c3 + 2 * self.grid
        # Fixed, not learned: region l = (r, c) in reading order gets onehot(r) and onehot(c).
        eye = xp.eye(self.grid, dtype=get_default_dtype())
        self._coords = xp.concatenate(
            [xp.repeat(eye, self.grid, axis=0), xp.tile(eye, (self.grid, 1))], axis=1
        )  # (L, 2g)

    def forward(self, images: Tensor) -> Tensor:
        s = self.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, s, s):
            raise ShapeError(
                f"Encoder: expected images of shape (N, 1, {s}, {s}), got {tuple(images.shape)}"
            )
        f = run_sequential(self.cnn, images)  # (N, D, h, w): self.cnn(images), fused
        n, d = f.shape[0], f.shape[1]
        f = f.reshape(n, d, self.num_regions).permute(0, 2, 1)  # (N, L, C), reading order
        coords = xp.broadcast_to(self._coords.astype(f.dtype, copy=False), (n, *self._coords.shape))
        return cat([f, from_numpy(xp.ascontiguousarray(coords))], axis=2)


class AttentionDecoder(nn.Module):
    """An LSTM that writes a caption word by word, looking at the regions with soft attention.

    At step t, with h, c the state after the previous word y_{t-1}:

        α_t = softmax_l( vᵀ tanh(W_f f_l + W_h h) )            additive attention over L regions
        z_t = σ(W_β h + b_β) · Σ_l α_tl f_l                     the gated context (D,)
        h, c = LSTMCell([E y_{t-1}; z_t], (h, c))
        logits_t = W_o dropout(E y_{t-1} + L_h h + L_z z_t)     the deep output layer

    with (h_0, c_0) = (W_init_h f̄ + b, W_init_c f̄ + b) from the mean feature f̄ = mean_l f_l.

    Args:
        vocab_size: V; embed_dim: E; feature_dim: D; hidden_dim: H; attention_dim: A.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        feature_dim: int,
        hidden_dim: int,
        attention_dim: int,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        from chainrule.nn.modules.attention import AdditiveAttention

        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.attention = AdditiveAttention(feature_dim, hidden_dim, attention_dim)
        self.init_h = nn.Linear(feature_dim, hidden_dim)
        self.init_c = nn.Linear(feature_dim, hidden_dim)
        self.f_beta = nn.Linear(hidden_dim, feature_dim)
        self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden_dim)
        self.out_h = nn.Linear(hidden_dim, embed_dim)
        self.out_z = nn.Linear(feature_dim, embed_dim, bias=False)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(embed_dim, vocab_size)

    def init_state(self, features: Tensor) -> tuple:
        """(h, c, projected): the initial state from the mean feature, and W_f f (N, L, A)."""
        mean = features.mean(axis=1)
        return (
            self.init_h(mean),
            self.init_c(mean),
            self.attention.project_features(features),
        )

    def _context(self, features, h, projected):
        z, alpha = self.attention(features, h, projected=projected)
        return self.f_beta(h).sigmoid() * z, alpha

    def step(self, tokens: Tensor, state: tuple, features: Tensor):
        """One word: tokens (N,) int → logits (N, V), the new state, alpha (N, L)."""
        h, c, projected = state
        e = self.embedding(tokens)
        z, alpha = self._context(features, h, projected)
        h, c = self.cell(cat([e, z], axis=1), (h, c))
        logits = self.out(self.drop(e + self.out_h(h) + self.out_z(z)))
        return logits, (h, c, projected), alpha

    def forward(self, features: Tensor, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: features (N, L, D), inputs (N, T) → logits (N, T, V), alphas (N, T, L).

        The recurrence runs step by step; the output layer runs once over all T steps.
        """
        h, c, projected = self.init_state(features)
        emb = self.embedding(inputs)  # (N, T, E)
        hs, zs, alphas = [], [], []
        for t in range(inputs.shape[1]):
            z, alpha = self._context(features, h, projected)
            h, c = self.cell(cat([emb[:, t], z], axis=1), (h, c))
            hs.append(h)
            zs.append(z)
            alphas.append(alpha)
        hs, zs = stack(hs, axis=1), stack(zs, axis=1)  # (N, T, H), (N, T, D)
        logits = self.out(self.drop(emb + self.out_h(hs) + self.out_z(zs)))
        return logits, stack(alphas, axis=1)


class ShowTellDecoder(nn.Module):
    """The no-attention baseline (Show and Tell): the image enters only through the initial state.

        v = W_v flatten(f) + b                                   the image feature (H,) from all
                                                                 L·D region features, so that
                                                                 positions are not averaged away
        h_0 = tanh(W_h v + b), c_0 = W_c v + b
        h, c = LSTMCell(E y_{t-1}, (h, c))
        logits_t = W_o dropout(E y_{t-1} + L_h h)

    Args:
        vocab_size: V; embed_dim: E; feature_dim: D; num_regions: L; hidden_dim: H.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        feature_dim: int,
        num_regions: int,
        hidden_dim: int,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.image_fc = nn.Linear(num_regions * feature_dim, hidden_dim)
        self.init_h = nn.Linear(hidden_dim, hidden_dim)
        self.init_c = nn.Linear(hidden_dim, hidden_dim)
        self.cell = nn.LSTMCell(embed_dim, hidden_dim)
        self.out_h = nn.Linear(hidden_dim, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(embed_dim, vocab_size)

    def init_state(self, features: Tensor) -> tuple:
        """(h, c) from the flattened region features."""
        v = self.image_fc(features.reshape(features.shape[0], -1)).relu()
        return self.init_h(v).tanh(), self.init_c(v)

    def step(self, tokens: Tensor, state: tuple, features: Tensor):
        """One word: tokens (N,) int → logits (N, V), the new state, None (no attention)."""
        e = self.embedding(tokens)
        h, c = self.cell(e, state)
        logits = self.out(self.drop(e + self.out_h(h)))
        return logits, (h, c), None

    def forward(self, features: Tensor, inputs: Tensor) -> tuple[Tensor, None]:
        """Teacher forcing: features (N, L, D), inputs (N, T) → logits (N, T, V), None."""
        h, c = self.init_state(features)
        emb = self.embedding(inputs)
        hs = []
        for t in range(inputs.shape[1]):
            h, c = self.cell(emb[:, t], (h, c))
            hs.append(h)
        logits = self.out(self.drop(emb + self.out_h(stack(hs, axis=1))))
        return logits, None


class Captioner(nn.Module):
    """Encoder + decoder: an image to a caption's logits, with or without attention.

    Args:
        config: a ``CaptionerConfig``, or its fields as keywords
            (``Captioner(vocab_size=46, attention=False)``).

    Shape:
        ``forward(images (N, 1, S, S), inputs (N, T) int)`` → ``(logits (N, T, V),
        alphas (N, T, L) or None)``.
    """

    def __init__(self, config: CaptionerConfig | None = None, **kwargs) -> None:
        super().__init__()
        if config is None:
            config = CaptionerConfig(**kwargs)
        elif kwargs:
            raise TypeError("Captioner: give either a config or keyword sizes, not both")
        self.config = config
        self.encoder = Encoder(config.channels, config.image_size)
        d, n_regions = self.encoder.feature_dim, self.encoder.num_regions
        if config.attention:
            self.decoder = AttentionDecoder(
                config.vocab_size,
                config.embed_dim,
                d,
                config.hidden_dim,
                config.attention_dim,
                config.dropout,
            )
        else:
            self.decoder = ShowTellDecoder(
                config.vocab_size, config.embed_dim, d, n_regions, config.hidden_dim, config.dropout
            )

    @property
    def attention(self) -> bool:
        return self.config.attention

    def encode(self, images: Tensor) -> Tensor:
        """images (N, 1, S, S) → region features (N, L, D)."""
        return self.encoder(images)

    def init_state(self, features: Tensor):
        return self.decoder.init_state(features)

    def step(self, tokens: Tensor, state, features: Tensor):
        """One decoding step: tokens (N,) → (logits (N, V), state, alpha (N, L) or None)."""
        return self.decoder.step(tokens, state, features)

    def forward(self, images: Tensor, inputs: Tensor):
        if inputs.ndim != 2 or inputs.shape[0] != images.shape[0]:
            raise ShapeError(
                f"Captioner: expected inputs (N, T) with N = {images.shape[0]} images, got "
                f"{tuple(inputs.shape)}"
            )
        return self.decoder(self.encode(images), inputs)

    def extra_repr(self) -> str:
        return f"attention={self.config.attention}, vocab_size={self.config.vocab_size}"
