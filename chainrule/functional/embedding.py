"""Embedding lookup: integer token ids to rows of a learned table."""

from __future__ import annotations

from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, apply, escape, recomputed
from chainrule.backend import xp
from chainrule.errors import ShapeError, user_line
from chainrule.ops.embedding import Embedding


def embedding(
    input,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Looks up rows of ``weight``: y[..., :] = weight[input[...], :].

    The gradient scatter-adds the upstream gradient back into the rows that were read (an index
    that occurs several times accumulates all its gradients).

    Args:
        input: integer indices of any shape (*), e.g. (N, T) token ids; a Tensor, NumPy array or
            nested list. Each must lie in [0, V).
        weight: the table, (V, D).
        padding_idx: the row at this index gets no gradient (a fixed padding vector); negative
            values count from the end, as in PyTorch.
        max_norm: when given, every row that is looked up and whose ``norm_type``-norm exceeds
            max_norm is rescaled in place to norm max_norm first (as PyTorch; not recorded).
        scale_grad_by_freq: divide each row's gradient by how often its index occurs in input.
        sparse: only False (gradients are dense arrays).
    Returns:
        y of shape (*, D).
    """
    idx = xp.asarray(input._data if isinstance(input, Tensor) else input)
    w = as_tensor(weight)
    if w.ndim != 2:
        raise ShapeError(f"embedding: expected a weight table of shape (V, D), got {w.shape}")
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            idx = idx.astype(xp.int64)
        else:
            raise TypeError(
                f"embedding: indices must be integers, got {idx.dtype} (shape {idx.shape})\n"
                f"  at {user_line()}"
            )
    v = w.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(
            f"embedding: index {int(bad)} is out of range for a table of {v} rows (indices must "
            f"lie in [0, {v})); input shape {idx.shape}\n  at {user_line()}"
        )
    padding_idx = padding_index(padding_idx, v, "embedding")
    if sparse:
        raise ValueError("embedding: sparse=True is not supported (gradients are dense arrays)")
    if max_norm is not None:
        escape("embedding with max_norm (rows are renormalised in place from the indices)")
        _renorm_(w._data, idx, float(max_norm), float(norm_type))
    return apply(Embedding(idx, padding_idx, bool(scale_grad_by_freq)), w)


def padding_index(padding_idx: int | None, v: int, where: str) -> int | None:
    """``padding_idx`` of a table of ``v`` rows as a row in [0, v) (negative counts from the end),
    or None; out of range is a ValueError naming ``where`` (``embedding`` or ``Embedding``)."""
    if padding_idx is None:
        return None
    if not -v <= padding_idx < v:
        raise ValueError(
            f"{where}: padding_idx must be within [-{v}, {v}) for a table of {v} rows, got "
            f"{padding_idx}"
        )
    return int(padding_idx) % v


def _renorm_(table: xp.ndarray, idx: xp.ndarray, max_norm: float, p: float) -> None:
    rows = xp.unique(idx)
    norms = xp.linalg.norm(table[rows], ord=p, axis=1)
    big = norms > max_norm
    # PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7).
    table[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(table.dtype)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """The one-hot encoding of class indices, as ``torch.nn.functional.one_hot``.

    Args:
        tensor: int class indices of any shape (*), each in [0, num_classes).
        num_classes: the number of classes; -1 takes the largest index plus one.
    Returns:
        int64 (*, num_classes), 1 at each index and 0 elsewhere (no gradient).
    """
    return recomputed(_one_hot, tensor, int(num_classes))


def _one_hot(idx: xp.ndarray, num_classes: int) -> xp.ndarray:
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    # A comparison against 0..C-1 broadcasts in one pass (put_along_axis costs 10x more here).
    hot = idx[..., None] == xp.arange(num_classes)
    # Each row has at most one 1; every index lies in [0, C) exactly when each row has one (one
    # count instead of a min and a max: this runs at every replay of a compiled step).
    if xp.count_nonzero(hot) != idx.size:
        raise IndexError(
            f"one_hot: class values must lie in [0, {num_classes}), got values in "
            f"[{idx.min()}, {idx.max()}]"
        )
    return hot.astype(xp.int64)
