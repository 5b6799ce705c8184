"""Reading the images that ``chainrule caption describe`` is given.

The captioner sees 64×64 grayscale images in [0, 1], as Fashion Scenes makes them (and as
``export_coco`` writes them: 8-bit grayscale PNG). Other images are made to fit: colour is
converted to grayscale (ITU-R 601 luma, PIL's ``convert("L")``), other sizes are resized
(bilinear), and each such change is reported so the user knows the model saw something else.
"""

from __future__ import annotations

import os

from chainrule.backend import xp
from chainrule.datasets.images import ImageError, open_image

__all__ = ["ImageError", "read_image"]


def read_image(path: str | os.PathLike, size: int = 64) -> tuple[xp.ndarray, list[str]]:
    """An image file as the captioner's input.

    Args:
        path: a PNG or JPEG file (``datasets.images.open_image``: other formats are refused
            whatever the file's name, and so are images of more than ``MAX_PIXELS`` pixels).
        size: the side S the model expects.

    Returns:
        ``(image, notes)``: float32 (1, S, S) in [0, 1], and what was changed to get there
        (e.g. ``"converted from RGB to grayscale"``, ``"resized from 128x96 to 64x64"``).

    Raises:
        FileNotFoundError: no such file. IsADirectoryError, NotARegularFileError: a folder, a
            FIFO or a device (``errors.regular_file``). ImageError: the file is not a readable
            PNG or JPEG image, or is too large.
    """
    with open_image(path) as img:
        return _to_input(img, size)


def _to_input(img, size: int) -> tuple[xp.ndarray, list[str]]:
    from PIL import Image

    notes = []
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = xp.asarray(img)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(_to_8bit(arr, 255.0 / peak), "L")
        notes.append(f"converted from {peak:.0f}-level grayscale to 8 bits")
    elif img.mode == "F":
        arr = xp.asarray(img)
        img = Image.fromarray(_to_8bit(arr, 255.0 if arr.max() <= 1.0 else 1.0), "L")
        notes.append("converted from floating-point pixels to 8-bit grayscale")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode != "L":
        what = "grayscale with alpha" if img.mode == "LA" else f"colour ({img.mode})"
        img = img.convert("L")
        notes.append(f"converted from {what} to grayscale")
    if img.size != (size, size):
        w, h = img.size
        img = img.resize((size, size), Image.BILINEAR)
        notes.append(f"resized from {w}x{h} to {size}x{size}")
    pixels = xp.asarray(img, dtype=xp.float32) / xp.float32(255)
    return pixels[None], notes


def _to_8bit(arr: xp.ndarray, scale: float, rows: int = 256) -> xp.ndarray:
    """``round(clip(arr * scale, 0, 255))`` as uint8 (H, W), computed ``rows`` rows at a time so
    that a 4096x4096 16-bit image needs a few MB of float64 at once, not 1 GB."""
    out = xp.empty(arr.shape, xp.uint8)
    for i in range(0, arr.shape[0], rows):
        block = arr[i : i + rows].astype(xp.float64) * scale
        out[i : i + rows] = xp.clip(block, 0, 255).round()
    return out
