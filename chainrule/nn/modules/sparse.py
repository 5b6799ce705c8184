"""``Embedding``: a learned table of vectors looked up by integer index (PyTorch's ``nn.sparse``)."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp
from chainrule.functional.embedding import embedding, padding_index
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


class Embedding(Module):
    """A table of V vectors of size D; ``forward`` returns the rows named by integer indices.

    Args:
        num_embeddings: V, the number of rows (e.g. the vocabulary size).
        embedding_dim: D, the size of each vector.
        padding_idx: this row is initialised to zeros and receives no gradient, so it stays a
            fixed padding vector (negative values count from the end).
        max_norm, norm_type, scale_grad_by_freq, sparse: as ``F.embedding``.
        _weight: an initial (V, D) table instead of the random one; _freeze: make it fixed.
    Shape:
        input: integers of any shape (*), e.g. (N, T) → (*, D), e.g. (N, T, D).
    Attributes:
        weight: (V, D), drawn from N(0, 1) as in PyTorch (the padding row zeroed).
    Example:
        >>> emb = Embedding(10, 3, padding_idx=0)
        >>> emb(cr.tensor([[1, 2, 0]])).shape
        (1, 3, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | xp.ndarray | None = None,
        _freeze: bool = False,
    ) -> None:
        super().__init__()
        for what, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(n, (int, xp.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"Embedding: {what} must be a non-negative int, got {n!r}")
        if sparse:
            raise ValueError("Embedding: sparse=True is not supported (gradients are dense)")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_index(padding_idx, self.num_embeddings, "Embedding")
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = False
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(xp.empty(shape, dtype=get_default_dtype()))
            self.reset_parameters()
        else:
            w = xp.array(_weight._data if isinstance(_weight, Tensor) else _weight)
            if w.shape != shape:
                raise ValueError(
                    f"Embedding: _weight has shape {w.shape}, expected {shape} "
                    "(num_embeddings, embedding_dim)"
                )
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight from N(0, 1), the padding row (if any) set to zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input) -> Tensor:
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor | xp.ndarray,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose table is ``embeddings`` (V, D) (copied), fixed unless freeze=False."""
        arr = xp.asarray(embeddings._data if isinstance(embeddings, Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: expected a 2-D table (V, D), got shape {arr.shape}"
            )
        return cls(
            arr.shape[0],
            arr.shape[1],
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=arr,
            _freeze=freeze,
        )

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
