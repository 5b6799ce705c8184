"""Hostile inputs from issue 15, each answered with one line naming the file or flag and exit
code 2: paths that are not regular files, ..."""

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

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


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
        cr.checkpoint.load_metadata(fifo)
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
