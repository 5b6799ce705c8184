"""Issue 15: an adversarial suite. Hostile checkpoints, data files, images, command lines and
``explain`` inputs against every command, each answered with exit code 2 (bad input) or 1 (a
failed run), one error line naming the file or flag, and never a Python traceback.

Every case is an input under 100 kB built from nothing. The default run calls the CLI in this
process. The slow run (``pytest -m slow tests/cli/test_cli_bad_inputs.py``) runs each case as its own
process, so that the output checked is all the process wrote, and measures its peak memory: no
case may take more than 200 MB above ``chainrule --help`` before it is refused.

"One error line": exactly one line of stderr holds ``error:`` and names the file or flag; the
other lines may only be argparse's usage (for flags), the indented context under an ``explain``
error (the expression with a caret), or the fixed hint "(set CHAINRULE_DEBUG=1 ...)".
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.datasets import mnist as mnist_module
from chainrule.datasets import write_idx

MB = 1 << 20
INPUT_LIMIT = 100_000  # bytes: every file a case writes is smaller
MEMORY_LIMIT = 200 * MB  # above `chainrule --help`, in the slow run


@dataclass(frozen=True)
class Case:
    """``build(folder)`` writes the inputs into ``folder`` and returns ``(argv, named)``: the
    command line and the file or flag the error line must name."""

    id: str
    build: Callable[[Path], tuple[list[str], str]]
    code: int = 2
    env: Callable[[Path], dict[str, str]] | None = None  # environment variables, by folder


CASES: list[Case] = []


def case(id: str, code: int = 2, env: Callable[[Path], dict[str, str]] | None = None):
    def register(build):
        CASES.append(Case(id, build, code, env))
        return build

    return register


# ----- file contents -----
def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_claiming(width: int, height: int, depth: int = 8) -> bytes:
    """A small PNG whose header claims width x height gray pixels; its data is a short stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + png_chunk(b"IEND", b""))  # fmt: skip


def real_png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


F32 = np.arange(6, dtype=np.float32).tobytes()
HOSTILE_FILES: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "random-bytes": lambda: np.random.default_rng(0).bytes(1000),
    "text": lambda: b"hello, I am not a checkpoint\n",
    "header-length-2**63": lambda: struct.pack("<Q", 2**63) + b"{}",
    "header-length-past-end": lambda: struct.pack("<Q", 50_000) + b'{"a": 1}',
    "header-not-json": lambda: struct.pack("<Q", 9) + b"{not json",
    "header-a-list": lambda: safetensors_bytes([1, 2]),  # type: ignore[arg-type]
    "offsets-past-end": lambda: safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24_000]}}, F32
    ),
    "unknown-dtype": lambda: safetensors_bytes(
        {"w": {"dtype": "Q99", "shape": [6], "data_offsets": [0, 24]}}, F32
    ),
    "negative-shape": lambda: safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [-6], "data_offsets": [0, 24]}}, F32
    ),
    "shape-overflowing-int64": lambda: safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 24]}}, F32
    ),
    "shape-disagrees-with-offsets": lambda: safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [7], "data_offsets": [0, 24]}}, F32
    ),
    "metadata-not-strings": lambda: safetensors_bytes(
        {"__metadata__": {"kind": 5}, "w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}},
        F32,
    ),
    "metadata-bad-json": lambda: safetensors_bytes(
        {
            "__metadata__": {"chainrule.metadata": "json", "model": "{oops"},
            "w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
        },
        F32,
    ),
    "plain-safetensors-no-metadata": lambda: safetensors_bytes(
        {"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, F32
    ),
}


def classifier_file(path: Path, **meta_changes) -> Path:
    from chainrule.models.nielsen import Nielsen
    from chainrule.training.classifier_state import save_model

    meta = {"model": "nielsen", "data": "digits", "input_shape": [1, 8, 8], "num_classes": 10,
            "flatten": True, **meta_changes}  # fmt: skip
    cr.manual_seed(0)
    save_model(str(path), Nielsen([64, 30, 10]), meta, 1)
    return path


def captioner_file(path: Path) -> Path:
    from chainrule.captioning import save_captioner
    from chainrule.datasets.fashion_scenes import scene_vocabulary
    from chainrule.models.captioner import Captioner

    vocab = scene_vocabulary()
    cr.manual_seed(0)
    model = Captioner(vocab_size=len(vocab), channels=(4, 8, 8), embed_dim=8, hidden_dim=16,
                      attention_dim=8, dropout=0.0)  # fmt: skip
    save_captioner(str(path), model, vocab, {"epoch": 1})
    return path


def rewrite(path: Path, tensors=None, meta=None) -> Path:
    t, m = cr.load(path, with_metadata=True)
    t = {k: v.numpy() for k, v in t.items()}
    if tensors:
        tensors(t)
    if meta:
        meta(m)
    cr.save(t, path, m)
    return path


def flip_last_byte(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    return path


# Bad files that are not files: made by a function of the target path.
def make_fifo(p: Path) -> None:
    os.mkfifo(p)


def make_dir(p: Path) -> None:
    p.mkdir()


def make_loop(p: Path) -> None:
    p.symlink_to(p)


def make_dangling(p: Path) -> None:
    p.symlink_to(p.parent / "nowhere")


NOT_FILES: dict[str, Callable[[Path], None]] = {
    "fifo": make_fifo,
    "directory": make_dir,
    "symlink-loop": make_loop,
    "dangling-symlink": make_dangling,
    "missing": lambda p: None,
}

TINY_CAPTION = ["--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16",
                "--attention-dim", "8", "--train-size", "16", "--val-size", "8",
                "--batch-size", "16", "--epochs", "2", "--schedule", "constant"]  # fmt: skip

# Every command that reads a checkpoint, as argv around the checkpoint's path. The resumes read
# OUT/checkpoint.safetensors, so there the hostile file is put at that name.
CHECKPOINT_READERS: dict[str, Callable[[Path, Path], list[str]]] = {
    "eval": lambda f, d: ["eval", str(f)],
    "show": lambda f, d: ["show", str(f), "--out", str(d / "show.png")],
    "caption-eval": lambda f, d: ["caption", "eval", str(f), "--size", "2", "--no-meteor"],
    "caption-describe": lambda f, d: ["caption", "describe", str(f), str(good_image(d))],
    "train-resume": lambda f, d: ["train", "mlp", "--data", "digits", "--epochs", "2",
                                  "--limit", "64", "--out", str(f.parent), "--resume"],
    "caption-resume": lambda f, d: ["caption", "train", *TINY_CAPTION, "--out", str(f.parent),
                                    "--resume"],
}  # fmt: skip


def good_image(d: Path) -> Path:
    path = d / "scene.png"
    if not path.exists():
        path.write_bytes(real_png(np.full((64, 64), 128, np.uint8)))
    return path


def checkpoint_path(d: Path, reader: str) -> Path:
    if reader.endswith("resume"):
        (d / "out").mkdir(exist_ok=True)
        return d / "out" / "checkpoint.safetensors"
    return d / "model.safetensors"


for _reader, _argv in CHECKPOINT_READERS.items():
    for _name, _content in HOSTILE_FILES.items():

        def _build(d, reader=_reader, argv=_argv, content=_content):
            f = checkpoint_path(d, reader)
            f.write_bytes(content())
            return argv(f, d), str(f)

        case(f"checkpoint-{_name}-{_reader}")(_build)
    for _name, _make in NOT_FILES.items():
        if _name == "missing" and _reader.endswith("resume"):
            continue  # --resume without a checkpoint starts afresh, on purpose

        def _build(d, reader=_reader, argv=_argv, make=_make):
            f = checkpoint_path(d, reader)
            make(f)
            return argv(f, d), str(f)

        case(f"checkpoint-{_name}-{_reader}")(_build)


# Valid safetensors, hostile content, for the classifier's readers and the captioner's.
CLASSIFIER_CONTENT: dict[str, Callable[[Path], Path]] = {
    "flipped-byte": lambda p: flip_last_byte(classifier_file(p)),
    "extra-tensor": lambda p: rewrite(classifier_file(p), tensors=lambda t: t.update(x=np.ones(2))),
    "missing-tensor": lambda p: rewrite(classifier_file(p), tensors=lambda t: t.pop("layers.1.bias")),
    "wrong-shape": lambda p: rewrite(
        classifier_file(p), tensors=lambda t: t.update({"layers.1.bias": np.ones(11, np.float32)})
    ),
    "complex-weights": lambda p: p.write_bytes(safetensors_bytes({
        "__metadata__": {"kind": "chainrule-model"},
        "w": {"dtype": "C64", "shape": [3], "data_offsets": [0, 24]}}, F32)) or p,
    "float64-too-large": lambda p: rewrite(
        classifier_file(p), tensors=lambda t: t.update({"layers.1.bias": np.full(10, 1e300)})
    ),
    "huge-input-shape": lambda p: classifier_file(p, input_shape=[1, 100_000, 100_000]),
    "huge-num-classes": lambda p: classifier_file(p, num_classes=10**9),
    "model-missing": lambda p: rewrite(classifier_file(p), meta=lambda m: m.pop("model")),
    "model-unknown": lambda p: classifier_file(p, model="resnet1000"),
    "num-classes-string": lambda p: classifier_file(p, num_classes="10"),
    "input-shape-floats": lambda p: classifier_file(p, input_shape=[1.5, 8, 8]),
    "epoch-negative": lambda p: rewrite(classifier_file(p), meta=lambda m: m.update(epoch=-1)),
    "data-unknown": lambda p: classifier_file(p, data="imagenet"),
    "a-captioner": captioner_file,
}  # fmt: skip
for _name, _make in CLASSIFIER_CONTENT.items():
    for _reader in ("eval", "show"):

        def _build(d, reader=_reader, make=_make):
            f = make(d / "model.safetensors")
            return CHECKPOINT_READERS[reader](f, d), str(f)

        case(f"model-{_name}-{_reader}")(_build)


def _cap_config(**changes):
    return lambda p: rewrite(captioner_file(p), meta=lambda m: m["config"].update(changes))


CAPTIONER_CONTENT: dict[str, Callable[[Path], Path]] = {
    "flipped-byte": lambda p: flip_last_byte(captioner_file(p)),
    "extra-tensor": lambda p: rewrite(captioner_file(p), tensors=lambda t: t.update(x=np.ones(2))),
    "hidden-dim-3000": _cap_config(hidden_dim=3000),
    "image-size-80000": _cap_config(image_size=80_000),
    "image-size-not-multiple-of-8": _cap_config(image_size=60),
    "unknown-config-key": _cap_config(bogus=1),
    "hidden-dim-string": _cap_config(hidden_dim="16"),
    "channels-two": _cap_config(channels=[4, 8]),
    "config-missing": lambda p: rewrite(captioner_file(p), meta=lambda m: m.pop("config")),
    "vocab-not-words": lambda p: rewrite(captioner_file(p), meta=lambda m: m.update(vocab=[1])),
    "a-classifier": classifier_file,
}  # fmt: skip
for _name, _make in CAPTIONER_CONTENT.items():
    for _reader in ("caption-eval", "caption-describe"):

        def _build(d, reader=_reader, make=_make):
            f = make(d / "model.safetensors")
            return CHECKPOINT_READERS[reader](f, d), str(f)

        case(f"captioner-{_name}-{_reader}")(_build)


def _vocab_shuffled(d: Path) -> tuple[list[str], str]:
    """Its own vocabulary is self-consistent (describe uses it); eval scores against the
    scenes' vocabulary, which it must then equal."""
    f = rewrite(captioner_file(d / "model.safetensors"),
                meta=lambda m: m.update(vocab=m["vocab"][:4] + m["vocab"][4:][::-1]))  # fmt: skip
    return CHECKPOINT_READERS["caption-eval"](f, d), str(f)


case("captioner-vocab-shuffled-caption-eval")(_vocab_shuffled)


# Training states whose metadata lies, through --resume.
def _classifier_state(d: Path) -> Path:
    from chainrule.training.trainer import TrainConfig, train

    out = d / "out"
    # nielsen: its training state is 30 kB, under the limit (mlp's is 1 MB).
    train(TrainConfig(**NIELSEN, epochs=1, out=str(out)), log=lambda s: None)
    return out / "checkpoint.safetensors"


NIELSEN = dict(model="nielsen", data="digits", limit=64)
NIELSEN_RESUME = ["train", "nielsen", "--data", "digits", "--limit", "64", "--epochs", "2"]


for _name, _change in {
    "epoch-minus-1": {"epoch": -1},
    "epoch-string": {"epoch": "1"},
    "history-too-short": {"history": []},
    "loader-missing": {"loader": None},
}.items():

    def _build(d, change=_change):
        f = rewrite(_classifier_state(d), meta=lambda m: m.update(change))
        return [*NIELSEN_RESUME, "--out", str(f.parent), "--resume"], str(f)

    case(f"state-{_name}-train-resume")(_build)


# ----- data files (MNIST's IDX format through `train --data mnist --root D`) -----
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")  # fmt: skip


def idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(x.to_bytes(4, "big") for x in dims) + payload


def honest_split(d: Path, n: int = 40, side: int = 28) -> None:
    rng = np.random.default_rng(0)
    for prefix, k in (("train", n), ("t10k", n // 2)):
        write_idx(d / f"{prefix}-images-idx3-ubyte",
                  rng.integers(0, 256, (k, side, side), dtype=np.uint8))  # fmt: skip
        write_idx(d / f"{prefix}-labels-idx1-ubyte", (np.arange(k) % 10).astype(np.uint8))


TRAIN_IMAGES, TRAIN_LABELS = IDX_NAMES[0], IDX_NAMES[1]
DATA_FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "empty": (TRAIN_IMAGES, lambda: b""),
    "random-bytes": (TRAIN_IMAGES, lambda: np.random.default_rng(1).bytes(5000)),
    "wrong-magic": (TRAIN_IMAGES, lambda: idx(0x0803FF, (2, 28, 28), bytes(2 * 784))),
    "labels-as-images": (TRAIN_IMAGES, lambda: idx(0x0801, (40,), bytes(40))),
    "truncated-payload": (TRAIN_IMAGES, lambda: idx(0x0803, (40, 28, 28), bytes(1000))),
    "payload-too-long": (TRAIN_IMAGES, lambda: idx(0x0803, (40, 28, 28), bytes(40 * 784 + 9))),
    "header-only": (TRAIN_IMAGES, lambda: idx(0x0803, (40, 28, 28), b"")),
    "dims-overflow-int64": (TRAIN_IMAGES, lambda: idx(0x0803, (2**31, 2**31, 2**31), b"")),
    "huge-claim": (TRAIN_IMAGES, lambda: idx(0x0803, (4_000_000, 28, 28), bytes(9000))),
    "float-images": (TRAIN_IMAGES, lambda: idx(0x0D03, (40, 28, 28), bytes(40 * 784 * 4))[:90_000]),
    "zero-width": (TRAIN_IMAGES, lambda: idx(0x0803, (40, 28, 0), b"")),
    "labels-out-of-range": (TRAIN_LABELS, lambda: idx(0x0801, (40,), bytes([200] * 40))),
    "labels-count-mismatch": (TRAIN_LABELS, lambda: idx(0x0801, (39,), bytes(39))),
    "labels-rank-2": (TRAIN_LABELS, lambda: idx(0x0802, (20, 2), bytes(40))),
    "test-images-other-size": ("t10k-images-idx3-ubyte", lambda: idx(0x0803, (20, 32, 32),
                                                                     bytes(20 * 1024))),
}  # fmt: skip


for _name, (_file, _content) in DATA_FILES.items():

    def _build(d, file=_file, content=_content):
        root = d / "data"
        root.mkdir()
        honest_split(root)
        (root / file).write_bytes(content())
        argv = ["train", "mlp", "--data", "mnist", "--root", str(root), "--val-size", "10",
                "--epochs", "1", "--out", str(d / "out")]  # fmt: skip
        return argv, str(root / file)

    case(f"idx-{_name}")(_build)


def _gzip_bomb(d: Path) -> tuple[list[str], str]:
    """204 kB in the issue; here under 100 kB: a gzip IDX whose payload would be 90 MB."""
    root = d / "data"
    root.mkdir()
    honest_split(root)
    (root / f"{TRAIN_IMAGES}").unlink()
    bomb = root / f"{TRAIN_IMAGES}.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(idx(0x0803, (40, 28, 28), b""))  # claims 40 images, then 90 MB of zeros
        for _ in range(90):
            f.write(bytes(MB))
    argv = ["train", "mlp", "--data", "mnist", "--root", str(root), "--val-size", "10",
            "--epochs", "1", "--out", str(d / "out")]  # fmt: skip
    return argv, str(bomb)


case("idx-gzip-bomb")(_gzip_bomb)


def _corrupt_gzip(d: Path) -> tuple[list[str], str]:
    root = d / "data"
    root.mkdir()
    honest_split(root)
    (root / TRAIN_LABELS).unlink()
    bad = root / f"{TRAIN_LABELS}.gz"
    data = bytearray(gzip.compress(idx(0x0801, (40,), bytes(40))))
    data[12] ^= 0xFF
    bad.write_bytes(bytes(data))
    argv = ["train", "mlp", "--data", "mnist", "--root", str(root), "--val-size", "10",
            "--epochs", "1", "--out", str(d / "out")]  # fmt: skip
    return argv, str(bad)


case("idx-corrupt-gzip")(_corrupt_gzip)

for _name, _make in (("fifo", make_fifo), ("directory", make_dir)):

    def _build(d, make=_make):
        root = d / "data"
        root.mkdir()
        honest_split(root)
        (root / TRAIN_IMAGES).unlink()
        make(root / TRAIN_IMAGES)
        argv = ["train", "mlp", "--data", "mnist", "--root", str(root), "--epochs", "1",
                "--val-size", "10", "--out", str(d / "out")]  # fmt: skip
        return argv, str(root / TRAIN_IMAGES)

    case(f"idx-{_name}")(_build)


# ----- images (caption describe) -----
def eps() -> bytes:
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


def _other_format(fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (64, 64), 9).save(buf, format=fmt)
        return buf.getvalue()

    return make


def _bad_crc() -> bytes:
    data = bytearray(real_png(np.zeros((64, 64), np.uint8)))
    data[29] ^= 0xFF  # inside IHDR's CRC
    return bytes(data)


IMAGES: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "text": lambda: b"not an image",
    "eps-named-png": eps,
    "gif-named-png": _other_format("GIF"),
    "bmp-named-png": _other_format("BMP"),
    "tiff-named-png": _other_format("TIFF"),
    "truncated-png": lambda: real_png(
        np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    )[:2000],
    "truncated-jpeg": lambda: _other_format("JPEG")()[:150],
    "bad-crc": _bad_crc,
    "bomb-100000x100000": lambda: png_claiming(100_000, 100_000),
    "16bit-6000x6000": lambda: png_claiming(6000, 6000, depth=16),
    "zero-width": lambda: png_claiming(0, 64),
    "signature-only": lambda: b"\x89PNG\r\n\x1a\n",
}


for _name, _content in IMAGES.items():

    def _build(d, content=_content):
        ckpt = captioner_file(d / "model.safetensors")
        image = d / "scene.png"
        image.write_bytes(content())
        return ["caption", "describe", str(ckpt), str(image)], str(image)

    case(f"image-{_name}")(_build)

for _name, _make in NOT_FILES.items():

    def _build(d, make=_make):
        ckpt = captioner_file(d / "model.safetensors")
        image = d / "scene.png"
        make(image)
        return ["caption", "describe", str(ckpt), str(image)], str(image)

    case(f"image-{_name}")(_build)


def _second_image_bad(d: Path) -> tuple[list[str], str]:
    ckpt = captioner_file(d / "model.safetensors")
    bad = d / "b.png"
    bad.write_bytes(eps())
    return ["caption", "describe", str(ckpt), str(good_image(d)), str(bad)], str(bad)


case("image-second-of-two-is-eps")(_second_image_bad)


def _map_into_missing_folder(d: Path) -> tuple[list[str], str]:
    ckpt = captioner_file(d / "model.safetensors")
    target = d / "no" / "such" / "map.png"
    return ["caption", "describe", str(ckpt), str(good_image(d)), "--attention-map",
            str(target)], str(target)  # fmt: skip


case("image-attention-map-into-missing-folder")(_map_into_missing_folder)


# ----- command lines -----
FLAGS: dict[str, tuple[list[str], str]] = {
    "lr-1e400": (["train", "mlp", "--lr", "1e400"], "--lr"),
    "lr-underflows-to-0": (["train", "mlp", "--lr", "1e-400"], "--lr"),
    "lr-text": (["train", "mlp", "--lr", "fast"], "--lr"),
    "epochs-1e3": (["train", "mlp", "--epochs", "1e3"], "--epochs"),
    "epochs-minus-1": (["train", "mlp", "--epochs", "-1"], "--epochs"),
    "batch-size-minus-1": (["train", "mlp", "--batch-size", "-1"], "--batch-size"),
    "seed-minus-1": (["train", "mlp", "--seed", "-1"], "--seed"),
    "limit-0": (["train", "mlp", "--limit", "0"], "--limit"),
    "unknown-model": (["train", "resnet"], "model"),
    "unknown-optimizer": (["train", "mlp", "--optimizer", "lion"], "--optimizer"),
    "unknown-data": (["train", "mlp", "--data", "imagenet", "--epochs", "1"], "imagenet"),
    "val-size-too-big": (["train", "mlp", "--data", "digits", "--val-size", "100000"],
                         "--val-size"),
    "caption-epochs-minus-2": (["caption", "train", "--epochs", "-2"], "--epochs"),
    "caption-train-size-0": (["caption", "train", "--train-size", "0"], "--train-size"),
    "caption-channels-letters": (["caption", "train", "--channels", "a,b,c"], "--channels"),
    "caption-channels-two": (["caption", "train", "--channels", "4,8"], "--channels"),
    "caption-channels-zero": (["caption", "train", "--channels", "0,8,8"], "--channels"),
    "caption-channels-negative": (["caption", "train", "--channels=-4,8,8"], "--channels"),
    "caption-channels-100000": (["caption", "train", "--channels", "100000,8,8"], "--channels"),
    "caption-hidden-dim-100000": (["caption", "train", "--hidden-dim", "100000"],
                                  "--hidden-dim"),
    "caption-dropout-1": (["caption", "train", "--dropout", "1"], "--dropout"),
    "caption-minutes-nan": (["caption", "train", "--minutes", "nan"], "--minutes"),
    "caption-alpha-c-minus": (["caption", "train", "--alpha-c", "-1"], "--alpha-c"),
    "caption-eval-beam-0": (["caption", "eval", "m.safetensors", "--beam", "0"], "--beam"),
    "caption-eval-split": (["caption", "eval", "m.safetensors", "--split", "dev"], "--split"),
    "caption-no-action": (["caption"], "ACTION"),
    "show-what": (["show", "m.safetensors", "--what", "weights"], "--what"),
    "no-command": ([], "COMMAND"),
    "unknown-command": (["fly"], "fly"),
    "unknown-flag": (["train", "mlp", "--epochz", "3"], "--epochz"),
}  # fmt: skip
for _name, (_argv, _named) in FLAGS.items():
    case(f"flag-{_name}")(lambda d, argv=_argv, named=_named: (list(argv), named))


def _caption_beam_huge(d: Path) -> tuple[list[str], str]:
    ckpt = captioner_file(d / "model.safetensors")
    return ["caption", "eval", str(ckpt), "--beam", "100000", "--size", "2"], "--beam"


case("flag-caption-eval-beam-100000")(_caption_beam_huge)


def _show_on_mlp(d: Path) -> tuple[list[str], str]:
    ckpt = classifier_file(d / "model.safetensors")
    return ["show", str(ckpt), "--out", str(d / "s.png")], str(ckpt)


case("flag-show-on-a-model-without-convolutions")(_show_on_mlp)


def _out_is_a_file(d: Path) -> tuple[list[str], str]:
    out = d / "taken"
    out.write_text("I am a file")
    return ["train", "mlp", "--data", "digits", "--epochs", "1", "--limit", "32", "--out",
            str(out)], str(out)  # fmt: skip


case("flag-out-is-a-file")(_out_is_a_file)


def _out_under_a_file(d: Path) -> tuple[list[str], str]:
    (d / "taken").write_text("I am a file")
    out = d / "taken" / "run"
    return ["caption", "train", *TINY_CAPTION, "--out", str(out)], str(out)


case("flag-caption-out-under-a-file")(_out_under_a_file)


def _resume_other_settings(d: Path) -> tuple[list[str], str]:
    f = _classifier_state(d)
    return [*NIELSEN_RESUME, "--seed", "5", "--out", str(f.parent), "--resume"], "seed"


case("flag-resume-with-another-seed")(_resume_other_settings)


def _diverges(d: Path) -> tuple[list[str], str]:
    return ["train", "mlp", "--data", "digits", "--optimizer", "sgd", "--lr", "1e30", "--epochs",
            "2", "--limit", "128", "--out", str(d / "out")], "--lr"  # fmt: skip


case("run-diverges-at-lr-1e30", code=1)(_diverges)


# ----- explain -----
EXPLAIN: dict[str, tuple[list[str], str]] = {
    "syntax": (["explain", "a+", "--at", "a=1"], "syntax error"),
    "import": (["explain", "__import__('os').system('true')", "--at", "a=1"], "__import__"),
    "attribute": (["explain", "a.__class__", "--at", "a=1"], "attribute access"),
    "lambda": (["explain", "(lambda: a)()", "--at", "a=1"], "can be called"),
    "string": (["explain", "a + 'x'", "--at", "a=1"], "strings are not allowed"),
    "subscript": (["explain", "a[0]", "--at", "a=[1,2]"], "indexing"),
    "unbound-name": (["explain", "a*b", "--at", "a=1"], "b"),
    "unused-value": (["explain", "a", "--at", "a=1", "c=2"], "c"),
    "value-not-a-number": (["explain", "a", "--at", "a=abc"], "--at"),
    "value-nan-text": (["explain", "a", "--at", "a=[1,2"], "--at"),
    "vector-20000": (["explain", "sum(a)", "--at", "a=[" + ",".join(["1"] * 20_000) + "]"],
                     "--at"),
    "nested-10000": (["explain", "(" * 10_000 + "a" + ")" * 10_000, "--at", "a=1"],
                     "characters long"),
    "calls-nested-3000": (["explain", "exp(" * 3000 + "a" + ")" * 3000, "--at", "a=1"],
                          "characters long"),
    "nested-under-the-length-limit": (["explain", "(" * 240 + "a" + ")" * 240, "--at", "a=1"],
                                      "nested"),
    "power-tower-huge": (["explain", "a**" * 200 + "a", "--at", "a=2"], "characters long"),
    "sum-of-20000-terms": (["explain", "+".join(["a"] * 20_000), "--at", "a=1"],
                           "characters long"),
    "no-input": (["explain", "2*3"], "does not depend"),
    "empty": (["explain", "", "--at", "a=1"], "empty"),
    "no-expression": (["explain", "--at", "a=1"], "no expression"),
    "h-zero": (["explain", "a*a", "--at", "a=1", "--numerical", "--h", "0"], "--h"),
    "h-nan": (["explain", "a*a", "--at", "a=1", "--numerical", "--h", "nan"], "--h"),
    "h-text": (["explain", "a*a", "--at", "a=1", "--h", "small"], "--h"),
    # issue 28: a step that cannot measure a slope at the value it nudges
    "h-inf": (["explain", "a*a", "--at", "a=1", "--numerical", "--h", "inf"], "--h"),
    "h-1e308": (["explain", "a*a", "--at", "a=1", "--numerical", "--h", "1e308"], "--h"),
    "h-below-the-values-spacing": (["explain", "a*a", "--at", "a=1e10", "--numerical",
                                    "--h", "1e-9"], "--h"),
    "h-1e308-nudging-a-node": (["explain", "u = 2*a; J = u*u", "--at", "a=1", "--nudge", "u",
                                "--h", "1e308"], "--h"),
    "h-5000-digits": (["explain", "a*a", "--at", "a=1", "--numerical", "--h", "1" * 5000],
                      "--h"),
    "dot-shapes": (["explain", "dot(a, b)", "--at", "a=[1,2]", "b=[1,2,3]"], "dot"),
    "assign-to-function": (["explain", "exp = a", "--at", "a=1"], "exp"),
    "svg-into-missing-folder": (["explain", "a*a", "--at", "a=1", "--svg",
                                 "/nonexistent/dir/g.svg"], "/nonexistent/dir/g.svg"),
}  # fmt: skip
# issue 28: numbers past what they can mean
NUMBERS = {
    "seed-past-pytorchs-range": (["train", "mlp", "--seed", str(2**64)], "--seed"),
    "caption-seed-2**70": (["caption", "train", "--seed", str(2**70)], "--seed"),
    "epochs-5000-digits": (["train", "mlp", "--epochs", "1" * 5000], "--epochs"),
    "lr-5000-digits-below-0": (["train", "mlp", "--lr", "-0." + "1" * 5000], "--lr"),
}
for _name, (_argv, _named) in NUMBERS.items():
    case(f"number-{_name}")(lambda d, argv=_argv, named=_named: (list(argv), named))


# issue 28: a named data set whose files in $CHAINRULE_DATA are not its size
def _small_named_set(d: Path, name: str = "fashion-mnist") -> tuple[list[str], str]:
    data = d / "data"
    data.mkdir()
    for prefix, k in (("train", 300), ("t10k", 100)):  # zeros: small once gzipped
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", np.zeros((k, 28, 28), np.uint8))
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(k) % 10).astype(np.uint8))
    argv = ["train", "mlp", "--data", name, "--epochs", "1", "--out", str(d / "out")]
    return argv, str(data / "train-images-idx3-ubyte.gz")


def _data_env(d: Path) -> dict[str, str]:
    return {"CHAINRULE_DATA": str(d / "data")}


for _name in ("fashion-mnist", "mnist"):
    case(f"data-{_name}-of-300-images-in-chainrule-data", env=_data_env)(
        lambda d, name=_name: _small_named_set(d, name)
    )


for _name, (_argv, _named) in EXPLAIN.items():
    case(f"explain-{_name}")(lambda d, argv=_argv, named=_named: (list(argv), named))


# ----- checking one answer -----
def check_answer(code: int, out: str, err: str, expected_code: int, named: str) -> None:
    """Asserts the exit code, one error line naming ``named``, and no traceback."""
    assert "Traceback" not in out + err, err
    assert code == expected_code, f"exit code {code}, expected {expected_code}; stderr: {err}"
    lines = err.strip().splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, f"expected one error line, got: {err}"
    assert named in errors[0], f"{named!r} not named in: {errors[0]}"
    for line in lines:
        allowed = (
            line is errors[0]
            or line.startswith("  (set CHAINRULE_DEBUG=1")
            or line.startswith(("usage:", " "))  # argparse's usage; explain's caret context
        )
        assert allowed, f"unexpected stderr line {line!r} in: {err}"
    assert len(errors[0]) < 1000, "an error line a user can read"


def build_case(c: Case, folder: Path) -> tuple[list[str], str]:
    argv, named = c.build(folder)
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert p.stat().st_size < INPUT_LIMIT, f"{p} is {p.stat().st_size} bytes"
    # What a user types is under the limit too.
    assert sum(len(a) + 1 for a in argv) < INPUT_LIMIT
    return argv, named


@pytest.fixture
def clean_environment(tmp_path, monkeypatch):
    """No data but what a case writes (and the bundled sets); outputs land in tmp_path."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.delenv("CHAINRULE_DEBUG", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "no-mnist")])
    monkeypatch.chdir(tmp_path)

    def hang(signum, frame):
        raise TimeoutError("the case hung for 120 s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(120)
    yield tmp_path
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_answered_in_one_line(clean_environment, capsys, monkeypatch, c):
    argv, named = build_case(c, clean_environment)
    for key, value in (c.env(clean_environment) if c.env else {}).items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse
        code = e.code
    out = capsys.readouterr()
    check_answer(code, out.out, out.err, c.code, named)


def test_the_suite_is_as_large_as_reported():
    """The note on issue 15 gives the number of cases; this keeps it honest."""
    assert len(CASES) == len({c.id for c in CASES})
    assert len(CASES) >= 250


# ----- the slow run: one process per case, and its memory -----
# The child reports its own peak: VmHWM, the high-water mark of its address space, which exec
# starts afresh. (ru_maxrss from wait4 or RUSAGE_CHILDREN would not do: Linux carries the
# parent's high-water mark into a child across fork/vfork and exec, so every case would read at
# least what this pytest process holds.)
CHILD = """
import sys
from chainrule.cli.main import main
try:
    code = main(sys.argv[2:])
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
sys.stdout.flush()
sys.stderr.flush()
with open("/proc/self/status") as f, open(sys.argv[1], "w") as out:
    out.write(f.read())
sys.exit(code)
"""


def run_cli(argv: list[str], cwd: Path, env: dict) -> tuple[int, str, str, int]:
    """Runs ``chainrule`` in a child process; returns its exit code, stdout, stderr and peak
    resident memory in bytes (its own VmHWM)."""
    status_file = cwd / ".status"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run([sys.executable, "-c", CHILD, str(status_file), *argv], cwd=cwd,
                           env=env, stdout=out, stderr=err, timeout=300)  # fmt: skip
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    hwm = 0
    if status_file.exists():
        for line in status_file.read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
        status_file.unlink()
    return p.returncode, stdout, stderr, hwm


def child_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINRULE_")}
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory) -> int:
    """Peak memory of ``chainrule --help``: what every command holds before it reads anything."""
    d = tmp_path_factory.mktemp("baseline")
    code, _, _, rss = run_cli(["--help"], d, child_env(d))
    assert code == 0 and rss > 0
    return rss


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_input_in_its_own_process_and_within_200_mb(tmp_path, monkeypatch, c, baseline_rss):
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "no-mnist")])
    argv, named = build_case(c, tmp_path)
    env = {**child_env(tmp_path), **(c.env(tmp_path) if c.env else {})}
    code, out, err, rss = run_cli(argv, tmp_path, env)
    check_answer(code, out, err, c.code, named)
    assert rss > 0, "the child did not report its memory"
    above = rss - baseline_rss
    assert above < MEMORY_LIMIT, f"{above / MB:.0f} MB above `chainrule --help`"
    print(f" {c.id}: {above / MB:.1f} MB above --help")  # for the note (pytest -s)
