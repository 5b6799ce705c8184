"""Issue 15, items 3, 5 and 7 for images: only PNG and JPEG are opened, whatever the file's name;
a file that claims more pixels than chainrule reads is refused before it is decoded; every
refusal is one line naming the file."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from chainrule.captioning import read_image, save_captioner
from chainrule.cli.main import main
from chainrule.datasets.images import MAX_PIXELS, ImageError, open_image

EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 moveto 10 10 lineto stroke\nshowpage\n"
)


def png_claiming(width: int, height: int) -> bytes:
    """A 70-byte PNG whose header claims width x height 8-bit gray pixels (its data is short)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture
def no_ghostscript(monkeypatch):
    """Fails the test if Pillow's EPS plugin would run Ghostscript."""
    from PIL import EpsImagePlugin

    def refuse(*args, **kwargs):
        raise AssertionError("Ghostscript was run")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)


def test_an_eps_named_png_is_refused_in_one_line_without_ghostscript(tmp_path, no_ghostscript):
    path = tmp_path / "scene.png"
    path.write_bytes(EPS)
    with pytest.raises(ImageError, match=r"scene\.png: cannot read the image: not a PNG or JPEG"):
        read_image(path)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "PPM", "ICO", "WEBP", "TGA"])
def test_other_formats_renamed_png_are_refused(tmp_path, fmt):
    path = tmp_path / f"from-{fmt.lower()}.png"
    try:
        Image.new("L", (64, 64), 128).save(path, format=fmt)
    except (KeyError, OSError):
        pytest.skip(f"this Pillow cannot write {fmt}")
    with Image.open(path) as im:  # Pillow itself would open it
        assert im.format == fmt
    with pytest.raises(ImageError, match=rf"from-{fmt.lower()}\.png: .*not a PNG or JPEG"):
        read_image(path)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bin"])
def test_png_and_jpeg_are_read_whatever_their_name(tmp_path, ext):
    pixels = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    png, jpeg = tmp_path / f"a{ext}", tmp_path / f"b{ext}"
    Image.fromarray(pixels).save(png, format="PNG")
    Image.fromarray(pixels).save(jpeg, format="JPEG", quality=95)
    a, notes = read_image(png)
    assert notes == [] and a.shape == (1, 64, 64)
    np.testing.assert_array_equal(a[0], pixels / np.float32(255))
    b, _ = read_image(jpeg)
    assert np.abs(b[0] - a[0]).max() < 0.05


def test_a_16bit_6000x6000_png_is_refused_before_decoding(tmp_path):
    """The issue's input: a 70 kB 16-bit PNG of 6000x6000 cost 1 GB in float64 copies."""
    path = tmp_path / "huge16.png"
    Image.fromarray(np.zeros((6000, 6000), np.uint16)).save(path)
    assert path.stat().st_size < 100_000
    with pytest.raises(
        ImageError, match=r"huge16\.png: the image is 6000x6000 = 36,000,000 pixels"
    ):
        read_image(path)


def test_the_largest_accepted_16bit_image_is_converted_exactly(tmp_path):
    """16-bit gray is scaled to 8 bits row block by row block (not as one float64 copy)."""
    side = 1024
    arr = (np.arange(side * side, dtype=np.uint32) % 65536).astype(np.uint16).reshape(side, side)
    path = tmp_path / "gray16.png"
    Image.fromarray(arr).save(path)
    image, notes = read_image(path, size=side)
    assert notes == ["converted from 65535-level grayscale to 8 bits"]
    expected = np.clip(arr / 65535.0 * 255.0, 0, 255).round().astype(np.uint8)
    np.testing.assert_array_equal(image[0], expected / np.float32(255))


@pytest.mark.parametrize(
    ("width", "height", "says"),
    [
        (6000, 6000, "the image is 6000x6000"),  # under Pillow's own limit: ours
        (10_000, 10_000, "decompression bomb"),  # Pillow warns: refused too
        (100_000, 100_000, "decompression bomb"),  # Pillow refuses: its message, our file name
        (4097, 4096, "the image is 4097x4096"),
        (1, MAX_PIXELS + 1, f"1x{MAX_PIXELS + 1}"),
    ],
)
def test_headers_claiming_too_many_pixels_are_refused_naming_the_file(
    tmp_path, width, height, says
):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(width, height))
    with pytest.raises(ImageError, match=rf"bomb\.png: .*{says}"):
        open_image(path)


def test_a_truncated_png_is_one_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.full((64, 64), 7, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ImageError, match=r"cut\.png: cannot read the image"):
        read_image(path)


def test_coco_images_are_opened_the_same_way(tmp_path):
    import json

    from chainrule.datasets.coco import CocoCaptions

    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "1.png").write_bytes(EPS)
    doc = {"images": [{"id": 1, "file_name": "1.png"}],
           "annotations": [{"image_id": 1, "caption": "a bag"}]}  # fmt: skip
    (tmp_path / "captions.json").write_text(json.dumps(doc))
    ds = CocoCaptions(tmp_path / "img", tmp_path / "captions.json", image_size=64)
    with pytest.raises(ImageError, match=r"CocoCaptions: .*1\.png: .*not a PNG or JPEG"):
        ds.load_image(0)


def test_cli_describe_refuses_an_eps_and_a_bomb_in_one_line(tmp_path, capsys, no_ghostscript):
    from chainrule.datasets.fashion_scenes import scene_vocabulary
    from chainrule.models.captioner import Captioner

    vocab = scene_vocabulary()
    model = Captioner(vocab_size=len(vocab), channels=(4, 8, 8), embed_dim=8, hidden_dim=16,
                      attention_dim=8, dropout=0.0)  # fmt: skip
    ckpt = tmp_path / "model.safetensors"
    save_captioner(str(ckpt), model, vocab, {"epoch": 1})
    for name, data, says in [("eps.png", EPS, "not a PNG or JPEG"),
                             ("bomb.png", png_claiming(6000, 6000), "6000x6000")]:  # fmt: skip
        (tmp_path / name).write_bytes(data)
        assert main(["caption", "describe", str(ckpt), str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and str(tmp_path / name) in err[0] and says in err[0]
