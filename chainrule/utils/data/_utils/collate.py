"""``torch.utils.data._utils.collate``: how a list of examples becomes a batch
(``default_collate``) and how a single example is converted (``default_convert``)."""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.tensor import Tensor
from chainrule.autograd.tensor_math import stack as _stack

__all__ = ["default_collate", "default_convert"]


def default_collate(batch: Sequence[Any]) -> Any:
    """PyTorch's ``default_collate``: Tensors and arrays are stacked on a new first dimension;
    floats become a float64 tensor, ints int64 and bools bool; strings stay a list; dicts,
    named tuples and sequences are collated field by field (a sequence gives a list)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)) and elem.dtype.kind not in "USO":
        return _tensor(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return _tensor(list(batch), dtype=np.bool_)
    if isinstance(elem, numbers.Integral):
        return _tensor(list(batch), dtype=np.int64)
    if isinstance(elem, float):
        return _tensor(list(batch), dtype=np.float64)
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
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return _tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):  # a tuple gives a list, as PyTorch's does
        return [default_convert(v) for v in data]
    return data
