"""Where the captioner looked: the image with each word's attention map over it."""

from __future__ import annotations

import os

from chainrule.backend import xp
from chainrule.errors import require_extra
from chainrule.serialization import write_atomically


def upsample(alpha: xp.ndarray, size: int) -> xp.ndarray:
    """A (g·g,) attention vector as a smooth (size, size) map (bilinear, via PIL), scaled to [0, 1]."""
    require_extra("caption", "PIL")
    from PIL import Image

    g = round(float(xp.sqrt(alpha.size)))
    if g * g != alpha.size:
        raise ValueError(f"upsample: {alpha.size} regions are not a square grid")
    grid = alpha.reshape(g, g).astype(xp.float32)
    big = xp.asarray(Image.fromarray(grid, mode="F").resize((size, size), Image.BILINEAR))
    peak = big.max()
    return big / peak if peak > 0 else big


def draw_attention(
    image: xp.ndarray,
    words: list[str],
    alphas: xp.ndarray,
    path: str | os.PathLike,
    title: str | None = None,
) -> None:
    """Draws one panel per word: the image, and where the model looked when writing that word.

    Args:
        image: (S, S) or (1, S, S) in [0, 1].
        words: the caption's words; ``<end>`` is added when ``alphas`` has one more row.
        alphas: (T, L), T = len(words) or len(words) + 1, each row over the L = g·g regions.
        path: the PNG to write (atomically).
        title: printed above the panels (default: the caption).
    """
    require_extra("caption", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    image = xp.asarray(image)
    if image.ndim == 3:
        image = image[0]
    alphas = xp.asarray(alphas)
    labels = list(words) + (["<end>"] if len(alphas) == len(words) + 1 else [])
    if len(labels) != len(alphas):
        raise ValueError(f"draw_attention: {len(words)} words but {len(alphas)} attention rows")
    panels = 1 + len(labels)
    cols = min(panels, 7)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes.flat[0].set_title("image", fontsize=9)
    s = image.shape[0]
    for ax, word, alpha in zip(axes.flat[1:], labels, alphas, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.imshow(upsample(alpha, s), cmap="inferno", alpha=0.55, vmin=0, vmax=1)
        ax.set_title(word, fontsize=9)
    fig.suptitle(title if title is not None else " ".join(words), fontsize=10)
    fig.tight_layout()
    path = os.fspath(path)
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"), "attention map")
    finally:
        plt.close(fig)
