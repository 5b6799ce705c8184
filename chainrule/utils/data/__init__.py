"""``torch.utils.data`` under PyTorch's names and meanings, so that a program's data pipeline
runs unchanged: datasets whose items are Tensors, samplers, ``DataLoader`` with ``collate_fn``,
``sampler``, ``batch_sampler``, ``drop_last``, ``generator`` and the worker arguments,
``default_collate``, ``random_split``, ``Subset``, ``ConcatDataset``, ``IterableDataset``.

chainrule's own trainers use ``chainrule.data``, whose batches are built from whole arrays at
once (faster for the data sets it ships); this module follows PyTorch's item-by-item protocol.

Workers: ``num_workers > 0`` loads in the main process, in the same order, so it gives exactly
the batches of ``num_workers=0`` (no process is started; ``worker_init_fn`` is called with each
worker id at the start of every epoch, as each PyTorch worker would call it once, and
``get_worker_info()`` is None, as in the main process). ``pin_memory`` and the other
performance options are accepted and change nothing.

The modules are PyTorch's, for programs that import from them: ``dataset`` (the datasets and
``random_split``), ``sampler``, ``dataloader`` (``DataLoader``, ``default_collate``),
``distributed`` (``DistributedSampler``) and ``_utils.collate``.
"""

from __future__ import annotations

from chainrule.utils.data import distributed
from chainrule.utils.data._utils.collate import default_collate, default_convert
from chainrule.utils.data.dataloader import DataLoader, get_worker_info
from chainrule.utils.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
    "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
    "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
    "get_worker_info", "random_split",
]  # fmt: skip
