"""COCO-format captions: export a captioning dataset to COCO's layout, and read that layout back.

The layout is COCO's own, so that the reader also serves the real thing (``train2014/`` and
``annotations/captions_train2014.json``)::

    OUT_DIR/SPLIT/*.png                          one image per scene, 8-bit grayscale
    OUT_DIR/annotations/captions_SPLIT.json      {"images": [{"id", "file_name", "height",
                                                  "width"}], "annotations": [{"id", "image_id",
                                                  "caption"}], "info": ..., "licenses": []}

Example:
    >>> image_dir, ann = export_coco(FashionScenes("test"), "scenes", "test")
    >>> ds = CocoCaptions(image_dir, ann)
    >>> image, captions = ds[0]          # float32 [1, 64, 64] in [0, 1], list of str
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

from chainrule.backend import xp
from chainrule.datasets.images import ImageError, open_image
from chainrule.datasets.vocab import Vocabulary, tokenize
from chainrule.errors import require_extra
from chainrule.utils.data.dataset import Dataset


def export_coco(dataset, out_dir: str | PathLike, split: str) -> tuple[Path, Path]:
    """Write a captioning dataset in COCO's layout.

    Args:
        dataset: has ``.captions`` (N lists of str) and either ``.canvases`` (uint8 (N, H, W)) or
            ``.images`` (float (N, 1, H, W) in [0, 1], rounded to 8 bits), e.g. ``FashionScenes``.
        out_dir: folder to write into (created if missing).
        split: name of the split: images go to ``out_dir/split/``, captions to
            ``out_dir/annotations/captions_{split}.json``.

    Returns:
        ``(image_dir, annotation_file)``, the two arguments of ``CocoCaptions``.

    Image ids are dataset indices; annotation ids number the captions in order.
    """
    require_extra("caption", "PIL")
    from PIL import Image

    if hasattr(dataset, "canvases"):
        pixels = xp.asarray(dataset.canvases)
    else:
        images = xp.asarray(dataset.images)
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"export_coco: expected images (N, 1, H, W), got {images.shape}")
        pixels = xp.rint(xp.clip(images[:, 0], 0.0, 1.0) * 255).astype(xp.uint8)
    captions = dataset.captions
    if len(captions) != len(pixels):
        raise ValueError(f"export_coco: {len(pixels)} images but {len(captions)} caption lists")
    out_dir = Path(out_dir)
    image_dir = out_dir / split
    ann_dir = out_dir / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    images_json, annotations = [], []
    for i, (canvas, caps) in enumerate(zip(pixels, captions, strict=True)):
        file_name = f"{split}_{i:06d}.png"
        Image.fromarray(canvas, mode="L").save(image_dir / file_name)
        height, width = canvas.shape
        images_json.append({"id": i, "file_name": file_name, "height": height, "width": width})
        for caption in caps:
            annotations.append({"id": len(annotations), "image_id": i, "caption": caption})
    ann_file = ann_dir / f"captions_{split}.json"
    doc = {
        "info": {"description": f"chainrule export, split {split}"},
        "licenses": [],
        "images": images_json,
        "annotations": annotations,
    }
    # Written whole, then renamed: a reader never sees half a file.
    tmp = ann_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(ann_file)
    return image_dir, ann_file


class CocoCaptions(Dataset):
    """Images and captions in COCO's layout: an export of ``export_coco`` or real COCO.

    Images are read lazily (``ds[i]`` opens one file), resized to ``image_size`` squared
    (bilinear, the aspect ratio not kept, as the usual captioning pipelines do) and, with
    ``grayscale``, converted to one channel (ITU-R 601-2 luma, Pillow's ``"L"``). Captions are
    normalised with ``tokenize`` (lower case, punctuation dropped), so that they are tokenised the
    way the scorers expect; Fashion Scenes captions pass through unchanged. Images without any
    caption are left out.

    Args:
        image_dir: folder holding the files named in the annotation file.
        annotation_file: COCO captions JSON (``images`` and ``annotations``).
        image_size: side of the square output; ``None`` keeps each image's size.
        grayscale: one channel (True) or RGB (False).
        vocab: the ``Vocabulary`` to encode with; ``None`` builds one from these captions
            (words seen at least 5 times, the usual COCO cut-off). Pass the training split's
            vocabulary when reading the validation split.

    Attributes:
        ids: COCO image ids, in file order. ``file_names``, ``captions`` (lists of str), ``vocab``.

    Shape:
        ``ds[i]`` is ``(image float32 (C, S, S) in [0, 1], captions list of str)`` with C 1 or 3
        and S ``image_size``; ``ds.get_batch(indices)`` is ``(images float32 (N, C, S, S),
        captions object array (N,) of lists)``, as images may have 5, 6 or 7 captions.
    """

    def __init__(
        self,
        image_dir: str | PathLike,
        annotation_file: str | PathLike,
        image_size: int | None = 64,
        grayscale: bool = True,
        vocab: Vocabulary | None = None,
    ) -> None:
        self.image_dir = Path(image_dir)
        self.annotation_file = Path(annotation_file)
        self.image_size = image_size
        self.grayscale = grayscale
        if image_size is not None and image_size < 1:
            raise ValueError(f"CocoCaptions: image_size must be >= 1, got {image_size}")
        if not self.image_dir.is_dir():
            raise FileNotFoundError(f"CocoCaptions: no such image folder: {self.image_dir}")

        doc = _read_annotations(self.annotation_file)
        by_image: dict[int, list[str]] = {}
        for ann in doc["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(" ".join(tokenize(ann["caption"])))
        self.ids: list[int] = []
        self.file_names: list[str] = []
        self.captions: list[list[str]] = []
        for entry in doc["images"]:
            if entry["id"] in by_image:
                self.ids.append(entry["id"])
                self.file_names.append(entry["file_name"])
                self.captions.append(by_image[entry["id"]])
        # A missing image is found now, not an hour into training.
        missing = [f for f in self.file_names if not (self.image_dir / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"CocoCaptions: {len(missing)} image(s) named in {self.annotation_file} are "
                f"missing from {self.image_dir}, e.g. {self.image_dir / missing[0]}"
            )
        self.vocab = vocab if vocab is not None else Vocabulary.from_captions(self.captions, 5)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[xp.ndarray, list[str]]:
        return self.load_image(index), list(self.captions[index])

    def get_batch(self, indices: xp.ndarray) -> tuple[xp.ndarray, xp.ndarray]:
        """Images ``indices`` (int (N,)) and their captions; needs ``image_size``."""
        indices = xp.asarray(indices, dtype=xp.int64).tolist()
        images = xp.stack([self.load_image(i) for i in indices])
        captions = xp.empty(len(indices), dtype=object)  # ragged: stays a NumPy field
        for n, i in enumerate(indices):
            captions[n] = list(self.captions[i])
        return images, captions

    def load_image(self, index: int) -> xp.ndarray:
        """Image ``index``: float32 (C, S, S) in [0, 1]."""
        require_extra("caption", "PIL")
        from PIL import Image

        path = self.image_dir / self.file_names[index]
        if not path.exists():  # in CocoCaptions' words; open_image checks the rest
            raise FileNotFoundError(f"CocoCaptions: no such image: {path}")
        try:
            with open_image(path) as im:
                im = im.convert("L" if self.grayscale else "RGB")
                size = self.image_size
                if size is not None and im.size != (size, size):
                    im = im.resize((size, size), Image.Resampling.BILINEAR)
                pixels = xp.asarray(im, dtype=xp.uint8)
        except ImageError as e:
            raise ImageError(f"CocoCaptions: {e}") from None
        pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
        return pixels.astype(xp.float32) / xp.float32(255)

    def load_images(self) -> xp.ndarray:
        """Every image at once: float32 (N, C, S, S); needs ``image_size``."""
        if self.image_size is None:
            raise ValueError("CocoCaptions.load_images: needs image_size (images differ in size)")
        channels = 1 if self.grayscale else 3
        out = xp.empty((len(self), channels, self.image_size, self.image_size), xp.float32)
        for i in range(len(self)):
            out[i] = self.load_image(i)
        return out

    def __repr__(self) -> str:
        return f"CocoCaptions({str(self.annotation_file)!r}, {len(self)} images)"


def _read_annotations(path: Path) -> dict:
    """The parsed annotation file, its structure checked; errors name the file."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"CocoCaptions: no such annotation file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"CocoCaptions: {path} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
        raise ValueError(
            f"CocoCaptions: {path} is not a COCO captions file: expected the keys "
            "'images' and 'annotations'"
        )
    for key, fields in (("images", ("id", "file_name")), ("annotations", ("image_id", "caption"))):
        for n, entry in enumerate(doc[key]):
            if not isinstance(entry, dict) or any(f not in entry for f in fields):
                raise ValueError(
                    f"CocoCaptions: {path}: {key}[{n}] must have the fields {fields}, got {entry!r}"
                )
    return doc
