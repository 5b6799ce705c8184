"""``torch.utils.data`` under PyTorch's names and meanings, so that a program's data pipeline
runs unchanged: datasets whose items are Tensors, samplers, ``DataLoader`` with ``collate_fn``,
``sampler``, ``batch_sampler``, ``drop_last``, ``generator`` and the worker arguments,
``default_collate``, ``random_split``, ``Subset``, ``ConcatDataset``, ``IterableDataset``.

It is also chainrule's own data pipeline (the trainers of ``chainrule train`` and ``chainrule
caption train`` use it; ``chainrule.data`` is an alias), with two additions PyTorch lacks: a
dataset may define ``get_batch(indices)`` to build a whole batch in one indexing call per field
(``TensorDataset`` and the image datasets do: an epoch of 60,000 images at batch size 10 is not
60,000 Python calls), and ``DataLoader(shuffle=True, seed=s)`` draws each epoch's order from
``(s, epoch)`` alone (``SeededRandomSampler``), so that ``state_dict``/``load_state_dict``
resume it exactly, mid-epoch included.

Workers: ``num_workers > 0`` loads in the main process, in the same order, so it gives exactly
the batches of ``num_workers=0`` (no process is started; ``worker_init_fn`` is called with each
worker id at the start of every epoch, as each PyTorch worker would call it once, and
``get_worker_info()`` is None, as in the main process). ``pin_memory`` and the other
performance options are accepted and change nothing.

The modules are PyTorch's, for programs that import from them: ``dataset`` (the datasets and
``random_split``), ``sampler``, ``dataloader`` (``DataLoader``, ``default_collate``),
``distributed`` (``DistributedSampler``) and ``_utils.collate``. ``collate_arrays`` (examples
stacked into NumPy arrays, not Tensors) is chainrule's own, offered here for ``chainrule.data``.
"""

from __future__ import annotations

from chainrule.utils.data import distributed
from chainrule.utils.data._utils.collate import collate_arrays, default_collate, default_convert
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
    SeededRandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
    "RandomSampler", "Sampler", "SeededRandomSampler", "SequentialSampler", "Subset",
    "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
    "default_convert", "get_worker_info", "random_split",
]  # fmt: skip
