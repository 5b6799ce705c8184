"""``ImageDataset``: labelled images held as two whole arrays, the shape every reader returns."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.backend import xp
from chainrule.utils.data.dataset import Dataset

__all__ = ["ImageDataset", "to_float_images"]


def to_float_images(raw: xp.ndarray, max_value: float) -> xp.ndarray:
    """Integer pixels of shape (N, H, W) to float32 (N, 1, H, W) in [0, 1] (``raw / max_value``)."""
    images = raw.astype(xp.float32)
    images /= xp.float32(max_value)
    return images.reshape(raw.shape[0], 1, *raw.shape[1:])


class ImageDataset(Dataset):
    """Labelled images: example ``i`` is ``(images[i], int(labels[i]))``.

    Attributes:
        images: float32 array of shape (N, C, H, W), pixel values in [0, 1].
        labels: int64 array of shape (N,), class indices 0 .. len(classes) - 1.
        classes: the class names, indexed by label.

    ``get_batch(idx)`` returns ``(images[idx], labels[idx])``, shapes (B, C, H, W) and (B,),
    without a Python call per example.
    """

    def __init__(self, images: xp.ndarray, labels: xp.ndarray, classes: Sequence[str]) -> None:
        if images.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}: expected images of shape (N, C, H, W), got {images.shape}"
            )
        if labels.shape != (images.shape[0],):
            raise ValueError(
                f"{type(self).__name__}: expected labels of shape ({images.shape[0]},) to match "
                f"images {images.shape}, got {labels.shape}"
            )
        self.images = images
        self.labels = labels
        self.classes = list(classes)

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[xp.ndarray, int]:
        return self.images[index], int(self.labels[index])

    def get_batch(self, indices: xp.ndarray) -> tuple[xp.ndarray, xp.ndarray]:
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return f"{type(self).__name__}(N={n}, C={c}, H={h}, W={w}, classes={len(self.classes)})"
