"""``torch.utils.data._utils.collate``: how a list of examples becomes a batch
(``default_collate``) and how a single example is converted (``default_convert``)."""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Sequence
from typing import Any

from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.tensor import Tensor
from chainrule.autograd.tensor_math import stack as _stack
from chainrule.backend import xp

__all__ = ["collate_arrays", "default_collate", "default_convert"]


def default_collate(batch: Sequence[Any]) -> Any:
    """PyTorch's ``default_collate``: Tensors and arrays are stacked on a new first dimension;
    floats become a float64 tensor, ints int64 and bools bool; strings stay a list; dicts,
    named tuples and sequences are collated field by field (a sequence gives a list)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(list(batch), 0)
    if isinstance(elem, (xp.ndarray, xp.generic)) and elem.dtype.kind not in "USO":
        return _tensor(xp.stack([xp.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return _tensor(list(batch), dtype=xp.bool_)
    if isinstance(elem, numbers.Integral):
        return _tensor(list(batch), dtype=xp.int64)
    if isinstance(elem, float):
        return _tensor(list(batch), dtype=xp.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a named tuple keeps its type
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


def default_convert(data: Any) -> Any:
    """What a loader without batching yields: NumPy arrays become Tensors, the rest as is."""
    if isinstance(data, xp.ndarray) and data.dtype.kind not in "USO":
        return _tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):  # a tuple gives a list, as PyTorch's does
        return [default_convert(v) for v in data]
    return data


def _to_array(x: Any) -> xp.ndarray:
    """A NumPy view of ``x``: arrays as they are, Tensors through ``.numpy()``."""
    if isinstance(x, xp.ndarray):
        return x
    if hasattr(x, "numpy") and not isinstance(x, xp.generic):
        return xp.asarray(x.numpy())
    return xp.asarray(x)


def _collate_array_field(values: Sequence[Any]) -> xp.ndarray:
    first = values[0]
    if isinstance(first, bool | xp.bool_):
        return xp.asarray(values, dtype=xp.bool_)
    if isinstance(first, numbers.Integral):
        return xp.asarray(values, dtype=xp.int64)  # class labels: what cross-entropy expects
    if isinstance(first, float):
        # Python floats follow the library's default float (float32), not NumPy's float64.
        return xp.asarray(values, dtype=xp.float32)
    return xp.stack([_to_array(v) for v in values])


def collate_arrays(items: Sequence[Any]) -> Any:
    """chainrule's NumPy collation (``chainrule.data.collate``): a list of examples stacked
    field by field into NumPy arrays, not Tensors.

    Examples that are tuples (or lists) give a tuple of arrays, dicts a dict of arrays, anything
    else one array. Arrays of shape S stack to (N, *S); Python ints become int64 (N,), Python
    floats float32 (N,) (``default_collate`` makes float64 tensors of them, as PyTorch does).
    """
    if len(items) == 0:
        raise ValueError("collate: expected at least one example, got an empty list")
    first = items[0]
    if isinstance(first, tuple | list):
        return tuple(_collate_array_field([it[k] for it in items]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate_array_field([it[k] for it in items]) for k in first}
    return _collate_array_field(items)
