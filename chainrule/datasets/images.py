"""Opening image files: the one place chainrule hands a user's image file to Pillow.

Pillow opens forty-odd formats, and for some (EPS, through Ghostscript) decoding runs another
program. chainrule reads PNG and JPEG only, the formats Fashion Scenes and COCO come in, and asks
Pillow to try those alone (``Image.open(formats=...)``): an EPS renamed ``.png`` is refused
before any decoder sees it. The header's width and height are checked against ``MAX_PIXELS``
before the pixels are decoded, so a small file claiming a huge image (a decompression bomb) is
refused without the memory it would take; every refusal names the file.
"""

from __future__ import annotations

import os
import warnings

from chainrule.errors import regular_file, require_extra

__all__ = ["FORMATS", "MAX_PIXELS", "ImageError", "open_image"]

FORMATS = ("PNG", "JPEG")
# A 16-megapixel photo (4096 x 4096); the captioner sees 64 x 64, COCO's images are ~640 x 480.
MAX_PIXELS = 4096 * 4096


class ImageError(ValueError):
    """An image file that cannot be read as an image, is not in a format chainrule reads, or
    claims more pixels than ``MAX_PIXELS``."""


def open_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS):
    """The PNG or JPEG image at ``path`` as a decoded ``PIL.Image`` (use it in a ``with``).

    Raises:
        FileNotFoundError, IsADirectoryError, NotARegularFileError: nothing, a folder, or a FIFO
            or device at ``path`` (``errors.regular_file``).
        ImageError: another format (whatever the file's name), more than ``max_pixels`` pixels,
            or a damaged or truncated file; the message names the file.
    """
    require_extra("caption", "PIL")
    from PIL import Image, UnidentifiedImageError

    path = regular_file(path, "image file")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path, formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: cannot read the image: not a PNG or JPEG file (the formats chainrule "
            "reads, whatever the file's name); convert it to PNG"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{path}: refused as a decompression bomb: {e}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: cannot read the image: {e}") from None
    try:
        w, h = im.size
        if w * h > max_pixels:
            raise ImageError(
                f"{path}: the image is {w}x{h} = {w * h:,} pixels, more than the {max_pixels:,} "
                "chainrule reads; scale it down first (the captioner sees 64x64)"
            )
        try:
            im.load()
        except (OSError, SyntaxError, ValueError) as e:
            # ValueError: Pillow's own limits, e.g. a PNG text chunk that inflates too far
            raise ImageError(f"{path}: cannot read the image: {e}") from None
    except BaseException:
        im.close()
        raise
    return im
