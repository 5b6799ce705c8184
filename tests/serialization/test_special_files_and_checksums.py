"""Paths that are not regular files (a FIFO, a device) refused by every reader without opening
them, and checkpoints whose data was altered refused by their SHA-256 digest: each one line
naming the file, exit code 2 through the CLI."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning import read_image, save_captioner
from chainrule.cli.main import main
from chainrule.datasets import read_idx
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.errors import NotARegularFileError
from chainrule.models.captioner import Captioner


@pytest.fixture
def no_hang():
    """Fails the test after 20 s instead of letting a blocked open() hang the suite."""

    def fail(signum, frame):
        raise TimeoutError("blocked: the code opened a FIFO")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs POSIX FIFOs")
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    return path


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1")
    return err[0]


def test_a_fifo_is_refused_by_every_reader_without_opening_it(no_hang, fifo, tmp_path):
    with pytest.raises(NotARegularFileError, match=r"pipe\.safetensors: is a FIFO"):
        cr.load(fifo)
    with pytest.raises(NotARegularFileError, match=r"pipe\.safetensors: is a FIFO"):
        cr.serialization.load_metadata(fifo)
    with pytest.raises(NotARegularFileError, match=r"pipe\.safetensors: is a FIFO .*image file"):
        read_image(fifo)
    with pytest.raises(NotARegularFileError, match=r"pipe\.safetensors: is a FIFO .*IDX"):
        read_idx(fifo)
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a checkpoint file"):
        cr.load(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"absent\.png: no such image file"):
        read_image(tmp_path / "absent.png")


def test_a_device_is_refused_too(no_hang):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    # /dev/zero would be read without end
    with pytest.raises(NotARegularFileError, match=r"/dev/zero: is a device"):
        cr.load("/dev/zero")


def test_cli_fifo_checkpoint_and_image_are_one_line_errors(no_hang, fifo, tmp_path, capsys):
    msg = one_line_error(capsys, ["eval", str(fifo)])
    assert str(fifo) in msg and "FIFO" in msg
    msg = one_line_error(capsys, ["caption", "eval", str(fifo), "--size", "2"])
    assert str(fifo) in msg and "FIFO" in msg

    vocab = scene_vocabulary()
    cr.manual_seed(0)
    model = Captioner(vocab_size=len(vocab), channels=(4, 8, 8), embed_dim=8, hidden_dim=16,
                      attention_dim=8, dropout=0.0)  # fmt: skip
    ckpt = tmp_path / "model.safetensors"
    save_captioner(str(ckpt), model, vocab, {"epoch": 1})
    image = tmp_path / "scene.png"
    os.mkfifo(image)
    msg = one_line_error(capsys, ["caption", "describe", str(ckpt), str(image)])
    assert str(image) in msg and "FIFO" in msg and "regular image file" in msg
    # and a symbolic link to a regular file still passes the check
    link = tmp_path / "link.safetensors"
    link.symlink_to(ckpt)
    np.testing.assert_array_equal(
        cr.load(link)["decoder.out.bias"].numpy(), cr.load(ckpt)["decoder.out.bias"].numpy()
    )


# ----- checksums -----
def flip_byte(path, offset_from_end: int) -> None:
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset_from_end", [1, 7, 40])
def test_one_flipped_byte_in_the_tensor_data_is_refused_naming_the_file(tmp_path, offset_from_end):
    """safetensors has no checksum: cr.save stores a SHA-256 of the tensors, cr.load checks it."""
    path = tmp_path / "ckpt.safetensors"
    w = np.arange(12.0).reshape(3, 4)
    cr.save({"w": w, "b": np.ones(2, np.float32)}, path, metadata={"epoch": 1})
    tensors, meta = cr.load(path, with_metadata=True)  # intact: loads, digest not in metadata
    np.testing.assert_array_equal(tensors["w"].numpy(), w)
    assert meta == {"epoch": 1}
    flip_byte(path, offset_from_end)  # the data is at the end of the file, after the header
    with pytest.raises(
        cr.serialization.CheckpointError, match=r"ckpt\.safetensors: the tensor data"
    ):
        cr.load(path)


def test_the_digest_covers_names_and_shapes(tmp_path):
    """Moving bytes between tensors or renaming one changes the digest too."""
    from chainrule.serialization.save_load import _digest

    a = {"x": np.zeros(4), "y": np.ones(2)}
    assert _digest(a) == _digest({"y": np.ones(2), "x": np.zeros(4)})  # order does not matter
    assert _digest(a) != _digest({"x2": np.zeros(4), "y": np.ones(2)})
    assert _digest(a) != _digest({"x": np.zeros((2, 2)), "y": np.ones(2)})
    assert _digest(a) != _digest({"x": np.zeros(4, np.int64), "y": np.ones(2)})
    import hashlib

    h = hashlib.sha256()  # by hand: name, dtype and shape as JSON, then the bytes, by name
    h.update(b'["x", "<f8", [4]]' + np.zeros(4).tobytes() + b'["y", "<f8", [2]]')
    h.update(np.ones(2).tobytes())
    assert _digest(a) == h.hexdigest()


def test_files_without_a_digest_still_load(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": np.arange(3.0)}, str(path))
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.arange(3.0))


def test_cli_eval_of_a_flipped_checkpoint_is_a_one_line_error(tmp_path, capsys):
    from chainrule.models.mlp import MLP
    from chainrule.training.classifier_state import save_model

    path = tmp_path / "model.safetensors"
    save_model(str(path), MLP([64, 10]), {"model": "mlp", "data": "digits",
               "input_shape": [64], "num_classes": 10, "flatten": True}, 1)  # fmt: skip
    flip_byte(path, 3)
    msg = one_line_error(capsys, ["eval", str(path)])
    assert str(path) in msg and "does not match the SHA-256" in msg
