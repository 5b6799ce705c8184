"""Making every rank hold the same model: a start-up check that the definitions agree (names,
shapes, dtypes) and a broadcast of rank 0's parameters and buffers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.distributed import comm as _comm

__all__ = [
    "ModelMismatchError",
    "broadcast_buffers",
    "broadcast_parameters",
    "check_same_model",
    "model_signature",
]


class ModelMismatchError(ValueError):
    """The ranks were given models of different definitions (names, shapes or dtypes)."""


def _named_tensors(model: Any, buffers: bool = True) -> list[tuple[str, Tensor]]:
    """``(name, tensor)`` of a Module's parameters (then buffers), or of a list of tensors
    (named by position)."""
    if hasattr(model, "named_parameters"):
        named = list(model.named_parameters())
        if buffers and hasattr(model, "named_buffers"):
            named += [(f"{n} (buffer)", b) for n, b in model.named_buffers()]
        return named
    return [(f"parameter {i}", p) for i, p in enumerate(_as_list(model))]


def _as_list(tensors: Iterable[Tensor]) -> list[Tensor]:
    out = list(tensors)
    for i, t in enumerate(out):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"chainrule.distributed: item {i} is a {type(t).__name__}, not a Tensor"
            )
    return out


def model_signature(model: Any) -> list[tuple[str, tuple[int, ...], str]]:
    """The definition the ranks must agree on: ``(name, shape, dtype)`` of every parameter and
    buffer of a Module, in registration order (or of a list of tensors, named by position)."""
    return [(n, tuple(t._data.shape), str(t._data.dtype)) for n, t in _named_tensors(model)]


def _checksum(signature: list[tuple[str, tuple[int, ...], str]]) -> str:
    text = "\n".join(f"{n}|{','.join(map(str, s))}|{d}" for n, s, d in signature)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_same_model(model: Any) -> str:
    """Checks that every rank has the same model definition; returns its checksum.

    Each rank hashes ``model_signature(model)``; the hashes are gathered on every rank. If they
    differ, the signatures themselves are exchanged and every rank raises the same
    ``ModelMismatchError``, naming the first rank that differs from rank 0 and what differs
    (a missing parameter, another shape or dtype). Collective: all ranks must call it.
    """
    signature = model_signature(model)
    digest = _checksum(signature)
    if _comm.world_size() == 1:
        return digest
    comm = _comm.get_comm()
    digests = comm.allgather(digest)
    if len(set(digests)) == 1:
        return digest
    signatures = comm.allgather(signature)  # only on mismatch: every rank is in this branch
    bad = next(r for r, d in enumerate(digests) if d != digests[0])
    raise ModelMismatchError(
        f"the ranks were given different models (checksum {digests[0]} on rank 0, "
        f"{digests[bad]} on rank {bad}): {_describe(signatures[0], signatures[bad], bad)}. "
        "Every rank must build the same model (same flags, same code)"
    )


def _describe(a: list, b: list, rank: int, limit: int = 5) -> str:
    """The differences between rank 0's signature ``a`` and rank ``rank``'s ``b``, in words."""
    da = {n: (tuple(s), d) for n, s, d in a}
    db = {n: (tuple(s), d) for n, s, d in b}
    fmt = lambda v: f"{v[0]} {v[1]}"  # noqa: E731
    diffs = []
    for n in da:
        if n not in db:
            diffs.append(f"'{n}' {fmt(da[n])} exists on rank 0 only")
        elif da[n] != db[n]:
            diffs.append(f"'{n}' is {fmt(da[n])} on rank 0 but {fmt(db[n])} on rank {rank}")
    diffs += [f"'{n}' {fmt(db[n])} exists on rank {rank} only" for n in db if n not in da]
    if not diffs:  # same entries, another order
        diffs.append(
            f"the parameters are registered in another order ({[n for n, *_ in a][:4]}... on "
            f"rank 0, {[n for n, *_ in b][:4]}... on rank {rank})"
        )
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


def broadcast_parameters(model: Any, root: int = 0, check: bool = True) -> None:
    """Overwrites every rank's parameters (and a Module's buffers, e.g. BatchNorm's running
    statistics) with rank ``root``'s, in place, so that all ranks start from the same weights
    whatever their random state.

    Args:
        model: a Module, or a list of Tensors.
        root: the rank whose values win.
        check: first run ``check_same_model`` (a broadcast between models of different shapes
            would fail in MPI with a far less helpful message, or not at all).
    """
    if _comm.world_size() == 1:
        return
    if check:
        check_same_model(model)
    _broadcast([t for _, t in _named_tensors(model)], root)


def broadcast_buffers(model: Any, root: int = 0) -> None:
    """Overwrites every rank's buffers (running statistics) with rank ``root``'s. Each rank's
    BatchNorm tracks the statistics of its own shard; before evaluating or saving, the trainer
    makes them rank 0's, as PyTorch's DistributedDataParallel does."""
    if _comm.world_size() == 1 or not hasattr(model, "buffers"):
        return
    _broadcast(list(model.buffers()), root)


def _broadcast(tensors: list[Tensor], root: int) -> None:
    comm = _comm.get_comm()
    for t in tensors:
        a = t._data
        if a.flags.c_contiguous and a.flags.writeable:
            comm.Bcast(a, root=root)
        else:
            buf = xp.array(a, order="C")  # a writable contiguous copy
            comm.Bcast(buf, root=root)
            t._data = buf.reshape(a.shape)
