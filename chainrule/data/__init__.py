"""Batching: ``Dataset``, ``TensorDataset``, ``Subset`` and the ``DataLoader`` that turns a
dataset into shuffled, resumable batches of Tensors."""

from __future__ import annotations

from chainrule.data.dataset import ArrayDataset, Dataset, Subset, TensorDataset, collate
from chainrule.data.loader import DataLoader

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "collate"]
