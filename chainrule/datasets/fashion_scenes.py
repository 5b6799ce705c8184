"""Fashion Scenes: the image-captioning benchmark of ``shared/CAPTIONS.md`` (version 1.1).

A scene is a 64×64 grayscale canvas of four 32×32 cells; one to three Fashion-MNIST photographs sit
in distinct cells, and a fixed grammar derives five reference captions from what is where. The
module has three layers, each usable on its own:

- ``make_scenes``: the composition, a pure function of (images, labels, n, seed, pool), so that it
  can be tested on synthetic images and reproduced by any other implementation of the spec;
- ``scene_captions``: the grammar, a pure function of a scene's items;
- ``FashionScenes``: the dataset of a named split (train / val / test), built in memory from the
  Fashion-MNIST files.

Example:
    >>> ds = FashionScenes("test")
    >>> image, captions = ds[0]          # float32 [1, 64, 64] in [0, 1], five str
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

from chainrule.backend import xp
from chainrule.datasets.vocab import MAX_LEN, Vocabulary
from chainrule.utils.data.dataset import Dataset

CANVAS = 64
CELL = 32
PHOTO = 28
MAX_OFFSET = 4  # PHOTO + MAX_OFFSET == CELL: an item never leaves its cell

CLASS_NAMES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
POSITIONS = ("top left", "top right", "bottom left", "bottom right")
NUMBER_WORDS = ("one", "two", "three")

# An item of a scene: (cell 0-3, Fashion-MNIST label 0-9, index of the photograph in its array).
Item = tuple[int, int, int]


@dataclass(frozen=True)
class Split:
    """Where a split draws its photographs from, and its default size and seed."""

    train_file: bool  # Fashion-MNIST train file (True) or test file (False)
    lo: int  # pool: photographs lo .. hi-1 of that file
    hi: int
    size: int
    seed: int


SPLITS = {
    "train": Split(train_file=True, lo=0, hi=50_000, size=30_000, seed=1),
    "val": Split(train_file=True, lo=50_000, hi=60_000, size=1_000, seed=2),
    "test": Split(train_file=False, lo=0, hi=10_000, size=2_000, seed=3),
}


# ---------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------


def make_scenes(
    images: xp.ndarray, labels: xp.ndarray, n: int, seed: int, lo: int, hi: int
) -> tuple[xp.ndarray, list[list[Item]]]:
    """Compose ``n`` scenes from the photographs ``images[lo:hi]``, exactly as CAPTIONS.md says.

    Each scene draws, from ``rng = numpy.random.default_rng(seed)`` and in this order:
    ``k = rng.integers(1, 4)``; ``cells = sort(rng.choice(4, size=k, replace=False))``;
    ``src = rng.integers(lo, hi, size=k)``; ``off = rng.integers(0, 5, size=(k, 2))``.
    Item i is pasted at its cell's corner + ``off[i]`` (dy, dx), keeping the maximum where pixels
    overlap.

    Args:
        images: photographs, uint8 of shape (M, 28, 28).
        labels: their Fashion-MNIST labels, integers of shape (M,).
        n: number of scenes.
        seed: seed of the generator.
        lo, hi: the pool, photographs ``lo .. hi-1`` (indices into ``images``).

    Returns:
        canvases: uint8 of shape (n, 64, 64), background 0.
        items: per scene, its items ``(cell, label, source index)`` in reading order of the cells;
            the source index is into ``images``.
    """
    images = xp.asarray(images)
    labels = xp.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (PHOTO, PHOTO) or images.dtype != xp.uint8:
        raise ValueError(
            f"make_scenes: expected images uint8 of shape (M, {PHOTO}, {PHOTO}), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"make_scenes: expected labels of shape ({images.shape[0]},), got {labels.shape}"
        )
    if not 0 <= lo < hi <= images.shape[0]:
        raise ValueError(
            f"make_scenes: expected 0 <= lo < hi <= {images.shape[0]}, got lo={lo}, hi={hi}"
        )
    if n < 0:
        raise ValueError(f"make_scenes: expected n >= 0, got {n}")

    rng = xp.random.default_rng(seed)
    canvases = xp.zeros((n, CANVAS, CANVAS), dtype=xp.uint8)
    items: list[list[Item]] = []
    for s in range(n):
        # The four draws, in the order the spec fixes: changing it changes every scene.
        k = rng.integers(1, 4)
        cells = xp.sort(rng.choice(4, size=k, replace=False))
        src = rng.integers(lo, hi, size=k)
        off = rng.integers(0, MAX_OFFSET + 1, size=(k, 2))
        scene = []
        for cell, j, (dy, dx) in zip(cells.tolist(), src.tolist(), off.tolist(), strict=True):
            y = (cell // 2) * CELL + dy
            x = (cell % 2) * CELL + dx
            region = canvases[s, y : y + PHOTO, x : x + PHOTO]
            xp.maximum(region, images[j], out=region)
            scene.append((cell, int(labels[j]), j))
        items.append(scene)
    return canvases, items


# ---------------------------------------------------------------------------------------------
# Grammar
# ---------------------------------------------------------------------------------------------


def article(name: str) -> str:
    """The indefinite article of a class name: ``an`` before a vowel, else ``a``."""
    return "an" if name[0] in "aeiou" else "a"


def plural(name: str) -> str:
    """The plural of a class name: its last word takes ``es`` after s, sh, ch, x, z, else ``s``."""
    return name + ("es" if name.endswith(("s", "sh", "ch", "x", "z")) else "s")


def noun_phrase(label: int) -> str:
    """``NP``: ``a/an CLASS``, e.g. ``an ankle boot``."""
    name = CLASS_NAMES[label]
    return f"{article(name)} {name}"


def _list_phrase(parts: Sequence[str]) -> str:
    """``x``, ``x and y``, ``x y and z``: the counting list's join."""
    if len(parts) == 1:
        return parts[0]
    return " ".join(parts[:-1]) + " and " + parts[-1]


def _positional(scene: Sequence[tuple[int, int]]) -> str:
    return " and ".join(f"{noun_phrase(label)} in the {POSITIONS[cell]}" for cell, label in scene)


def _relational(scene: Sequence[tuple[int, int]]) -> str:
    if len(scene) == 1:
        return f"a single {CLASS_NAMES[scene[0][1]]}"
    if len(scene) == 2:
        (c1, l1), (c2, l2) = scene
        first, second = noun_phrase(l1), noun_phrase(l2)
        if c1 // 2 == c2 // 2:  # same row
            return f"{first} to the left of {second}"
        if c1 % 2 == c2 % 2:  # same column
            return f"{first} above {second}"
        return f"{first} and {second} on a diagonal"
    # Three of four cells are filled, so exactly one row holds a single item: name that one.
    rows = [cell // 2 for cell, _ in scene]
    cell, label = next(
        (c, lab) for (c, lab), r in zip(scene, rows, strict=True) if rows.count(r) == 1
    )
    return f"three items with {noun_phrase(label)} in the {POSITIONS[cell]}"


def _counting(scene: Sequence[tuple[int, int]]) -> str:
    k = len(scene)
    noun = "item" if k == 1 else "items"
    return f"{NUMBER_WORDS[k - 1]} {noun} " + _list_phrase([noun_phrase(lab) for _, lab in scene])


def _grouped(scene: Sequence[tuple[int, int]]) -> str:
    counts: dict[int, int] = {}  # insertion order == order of first appearance
    for _, label in scene:
        counts[label] = counts.get(label, 0) + 1
    parts = [
        noun_phrase(label) if c == 1 else f"{NUMBER_WORDS[c - 1]} {plural(CLASS_NAMES[label])}"
        for label, c in counts.items()
    ]
    return _list_phrase(parts)


@functools.cache
def _captions_of(scene: tuple[tuple[int, int], ...]) -> tuple[str, ...]:
    # Only 4 * 10 + 6 * 100 + 4 * 1000 = 4,640 distinct scenes exist: caching makes 30,000 cheap.
    return (
        _positional(scene),
        _positional(scene[::-1]),
        _relational(scene),
        _counting(scene),
        _grouped(scene),
    )


def scene_captions(items: Sequence[Sequence[int]]) -> list[str]:
    """The five reference captions of a scene.

    Args:
        items: the scene's items as ``(cell, label, ...)`` (extra fields, like the source index
            of ``make_scenes``, are ignored); 1 to 3 items in distinct cells, any order.

    Returns:
        ``[positional, positional reversed, relational, counting, grouped]``, e.g. for a coat top
        left and a bag bottom right: ``a coat in the top left and a bag in the bottom right``,
        ``a bag in the bottom right and a coat in the top left``,
        ``a coat and a bag on a diagonal``, ``two items a coat and a bag``, ``a coat and a bag``.
    """
    scene = tuple(sorted((int(it[0]), int(it[1])) for it in items))
    cells = [c for c, _ in scene]
    if not 1 <= len(scene) <= 3 or len(set(cells)) != len(cells):
        raise ValueError(f"scene_captions: expected 1 to 3 items in distinct cells, got {items}")
    for cell, label in scene:
        if not (0 <= cell < 4 and 0 <= label < len(CLASS_NAMES)):
            raise ValueError(f"scene_captions: cell must be 0-3 and label 0-9, got {items}")
    return list(_captions_of(scene))


def grammar_words() -> list[str]:
    """Every word the grammar can emit, sorted (42 words; with 4 specials, the 46-token vocab)."""
    words = {"a", "an", "in", "the", "and", "to", "of", "above", "on", "diagonal", "single"}
    words |= {"with", "item", "items", *NUMBER_WORDS}
    for position in POSITIONS:
        words |= set(position.split())
    for name in CLASS_NAMES:
        words |= set(name.split()) | set(plural(name).split())
    return sorted(words)


def scene_vocabulary() -> Vocabulary:
    """The benchmark's vocabulary: ``<pad> <start> <end> <unk>`` then ``grammar_words()``."""
    return Vocabulary(grammar_words())


# ---------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------


class FashionScenes(Dataset):
    """A split of Fashion Scenes, generated in memory (nothing is cached on disk).

    Args:
        split: ``"train"`` (pool: Fashion-MNIST train images 0-49,999), ``"val"`` (train images
            50,000-59,999) or ``"test"`` (the 10,000 test images).
        size: number of scenes; default 30,000 / 1,000 / 2,000.
        seed: generator seed; default 1 / 2 / 3. Changing size keeps the first scenes.
        root: folder with the Fashion-MNIST IDX files (default: the package's search path).

    Attributes:
        canvases: uint8 (N, 64, 64), the scenes as generated.
        images: float32 (N, 1, 64, 64), ``canvases / 255`` (computed on first access).
        captions: N lists of 5 reference captions.
        items: N lists of ``(cell, label, source index)``.
        num_items: int64 (N,), items per scene (1-3), e.g. for ``score_captions``.
        vocab: the benchmark's 46-token ``Vocabulary``.

    Shape:
        ``ds[i]`` is ``(image float32 (1, 64, 64) in [0, 1], captions list of 5 str)``;
        ``ds.get_batch(indices)`` (what ``DataLoader`` calls) is ``(images float32 (N, 1, 64, 64),
        captions str array (N, 5))``.
    """

    def __init__(
        self,
        split: str = "train",
        size: int | None = None,
        seed: int | None = None,
        root: str | PathLike | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"FashionScenes: split must be one of {sorted(SPLITS)}, got {split!r}")
        spec = SPLITS[split]
        self.split = split
        self.size = spec.size if size is None else int(size)
        self.seed = spec.seed if seed is None else int(seed)
        # Imported here: the loader lives in the package whose __init__ also imports this module.
        from chainrule.datasets import load_fashion_mnist

        photos, labels = load_fashion_mnist(train=spec.train_file, root=root)
        if photos.shape[0] < spec.hi:
            raise ValueError(
                f"FashionScenes: the {split} pool needs {spec.hi} Fashion-MNIST images, "
                f"the file has {photos.shape[0]}"
            )
        self.canvases, self.items = make_scenes(
            photos, labels, self.size, self.seed, spec.lo, spec.hi
        )
        self.captions = [scene_captions(scene) for scene in self.items]
        self.num_items = xp.array([len(scene) for scene in self.items], dtype=xp.int64)
        self.vocab = scene_vocabulary()

    @functools.cached_property
    def images(self) -> xp.ndarray:
        """float32 (N, 1, 64, 64) in [0, 1]."""
        return (self.canvases[:, None].astype(xp.float32)) / xp.float32(255)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[xp.ndarray, list[str]]:
        image = self.canvases[index][None].astype(xp.float32) / xp.float32(255)
        return image, list(self.captions[index])

    def get_batch(self, indices: xp.ndarray) -> tuple[xp.ndarray, xp.ndarray]:
        """Scenes ``indices`` (int (N,)) at once: images (N, 1, 64, 64), captions str (N, 5)."""
        indices = xp.asarray(indices, dtype=xp.int64)
        return self.images[indices], xp.array([self.captions[i] for i in indices.tolist()])

    def encode_captions(self, max_len: int = MAX_LEN) -> xp.ndarray:
        """Every reference as token ids of ``self.vocab``: int64 (N, 5, max_len)."""
        flat = [c for caps in self.captions for c in caps]
        return self.vocab.encode_batch(flat, max_len).reshape(len(self), 5, max_len)

    def __repr__(self) -> str:
        return f"FashionScenes(split={self.split!r}, size={self.size}, seed={self.seed})"
