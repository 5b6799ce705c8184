"""Issue 28: writes never replace what is not a regular file. A character device (made with
mknod in a temporary folder, never the real /dev), a FIFO, a socket and a folder, as the target
of ``cr.save``, ``chainrule export``, the files ``train --out`` writes and the metrics/curves
writers, are each refused in one line naming them, before anything is computed, and left as
they were (same inode, same type). Also: the mode of written files follows the umask, and our
safetensors writer gives the library's own bytes (without its temporary file)."""

from __future__ import annotations

import io
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.errors import NotARegularFileError
from chainrule.serialization import safetensors_file
from chainrule.training import trainer
from chainrule.training.curves import plot_curves
from chainrule.training.run_folder import OUTPUTS
from chainrule.training.trainer import TrainConfig, train, write_metrics

KINDS = ["chardev", "fifo", "socket", "folder"]
SAYS = {
    "chardev": "a character device",
    "fifo": "a FIFO (named pipe)",
    "socket": "a socket",
    "folder": "a folder",
}
TINY_TRAIN = ["train", "nielsen", "--data", "digits", "--limit", "64", "--epochs", "1"]


def make_special(path: Path, kind: str) -> tuple[int, int]:
    """Makes ``path`` a ``kind`` of file; returns its (inode, type) to compare afterwards."""
    if kind == "chardev":
        try:  # the null device's numbers, in a temporary folder: never the real /dev/null
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("mknod needs root")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        cwd = os.getcwd()
        os.chdir(path.parent)  # a relative name: AF_UNIX paths are limited to 108 bytes
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.bind(path.name)
        finally:
            os.chdir(cwd)
    else:
        path.mkdir()
    return identity(path)


def identity(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_ino, stat.S_IFMT(st.st_mode)


def one_line_error(capsys, argv: list[str]) -> str:
    """Runs the CLI; asserts exit code 2 and one error line (plus the fixed debug hint)."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), err
    return err[0]


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ""])
@pytest.mark.parametrize("kind", KINDS)
def test_cr_save_refuses_a_special_target_and_leaves_it(tmp_path, kind, suffix):
    target = tmp_path / f"target{suffix}"
    before = make_special(target, kind)
    error = IsADirectoryError if kind == "folder" else NotARegularFileError
    with pytest.raises(error) as e:
        cr.save({"w": cr.ones(3)}, target)
    assert str(e.value) == (
        f"cr.save: refusing to write {target}: it is {SAYS[kind]}, not a regular file, and "
        "writing would replace it; give the path of a file"
    )
    assert identity(target) == before
    assert sorted(os.listdir(tmp_path)) == [target.name]  # no temporary file either


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_and_curves_writers_refuse_a_special_target(tmp_path, kind):
    rows = [{"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": None,
             "val_accuracy": None}]  # fmt: skip
    for name, write in (("metrics.jsonl", lambda p: write_metrics(str(p), rows)),
                        ("curves.png", lambda p: plot_curves(rows, str(p)))):  # fmt: skip
        target = tmp_path / name
        before = make_special(target, kind)
        with pytest.raises((IsADirectoryError, NotARegularFileError), match=re.escape(SAYS[kind])):
            write(target)
        assert identity(target) == before


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    """As ``open()`` writes through a link, the file it points to is replaced, not the link."""
    real = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    cr.save({"w": cr.zeros(2)}, real)
    link.symlink_to(real.name)
    cr.save({"w": cr.ones(2)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(cr.load(real)["w"].numpy(), np.ones(2))
    dangerous = tmp_path / "to-fifo"
    os.mkfifo(tmp_path / "fifo")
    dangerous.symlink_to("fifo")
    with pytest.raises(NotARegularFileError, match="a FIFO"):
        cr.save({"w": cr.ones(2)}, dangerous)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(model="nielsen", data="digits", epochs=1, limit=64, out=str(out))
    train(cfg, log=lambda s: None)
    return out / "model.safetensors"


@pytest.mark.parametrize("kind", KINDS)
def test_export_refuses_a_special_target_before_reading_the_checkpoint(
    tmp_path, capsys, monkeypatch, trained_model, kind
):
    from chainrule.training import classifier_state

    target = tmp_path / "model.onnx"
    before = make_special(target, kind)
    monkeypatch.setattr(classifier_state, "load_model", lambda *a: pytest.fail("loaded"))
    msg = one_line_error(capsys, ["export", str(trained_model), str(target)])
    assert msg == (
        f"chainrule export: error: out: refusing to write {target}: it is {SAYS[kind]}, not a "
        "regular file, and writing would replace it; give the path of a file"
    )
    assert identity(target) == before


@pytest.mark.parametrize("kind", KINDS)
def test_onnx_export_refuses_a_special_target(tmp_path, kind):
    target = tmp_path / "m.onnx"
    before = make_special(target, kind)
    with pytest.raises((IsADirectoryError, NotARegularFileError), match=re.escape(SAYS[kind])):
        cr.onnx.export(cr.nn.Linear(3, 2), (cr.zeros(1, 3),), str(target))
    assert identity(target) == before


@pytest.mark.parametrize("name", OUTPUTS)
@pytest.mark.parametrize("kind", KINDS)
def test_train_refuses_a_special_output_file_before_reading_data(
    tmp_path, capsys, monkeypatch, kind, name
):
    out = tmp_path / "run"
    out.mkdir()
    target = out / name
    before = make_special(target, kind)
    monkeypatch.setattr(trainer, "load_splits", lambda *a: pytest.fail("data was read"))
    msg = one_line_error(capsys, [*TINY_TRAIN, "--out", str(out)])
    assert msg == (
        f"chainrule train: error: --out: refusing to write {target}: it is {SAYS[kind]}, not "
        "a regular file, and writing would replace it; give the path of a file"
    )
    assert identity(target) == before
    assert sorted(os.listdir(out)) == [name]


@pytest.mark.parametrize("kind", ["chardev", "fifo", "socket", "file"])
def test_train_refuses_an_out_that_is_not_a_folder(tmp_path, capsys, monkeypatch, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_bytes(b"mine")
        before, says = identity(out), "a regular file"
    else:
        before, says = make_special(out, kind), SAYS[kind]
    monkeypatch.setattr(trainer, "load_splits", lambda *a: pytest.fail("data was read"))
    msg = one_line_error(capsys, [*TINY_TRAIN, "--out", str(out)])
    assert (
        msg == f"chainrule train: error: --out {out} is {says}, not a folder; give a folder's path"
    )
    assert identity(out) == before


def test_caption_train_refuses_a_special_output_file(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    before = make_special(out / "curves.png", "fifo")
    msg = one_line_error(capsys, ["caption", "train", "--train-size", "8", "--val-size", "0",
                                  "--epochs", "1", "--out", str(out)])  # fmt: skip
    assert f"--out: refusing to write {out / 'curves.png'}: it is a FIFO" in msg
    assert identity(out / "curves.png") == before


# ----- modes: what the umask gives, as open() and torch.save -----
UMASK_CHILD = """
import os, sys, numpy as np
os.umask(int(sys.argv[2], 8))
import chainrule as cr
from chainrule.training.trainer import write_metrics
d = sys.argv[1]
cr.save({"w": cr.ones(2)}, os.path.join(d, "a.safetensors"))
cr.save({"w": cr.ones(2)}, os.path.join(d, "b.pt"))
cr.save({"w": cr.ones(2)}, os.path.join(d, "c.safetensors"), metadata={"epoch": 1})
write_metrics(os.path.join(d, "metrics.jsonl"), [{"epoch": 1}])
cr.onnx.export(cr.nn.Linear(3, 2), (cr.zeros(1, 3),), os.path.join(d, "m.onnx"))
with open(os.path.join(d, "by-open"), "w"):
    pass
"""


@pytest.mark.parametrize(("umask", "mode"), [("022", 0o644), ("077", 0o600), ("002", 0o664)])
def test_new_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    proc = subprocess.run([sys.executable, "-c", UMASK_CHILD, str(tmp_path), umask],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(
        ["a.safetensors", "b.pt", "c.safetensors", "metrics.jsonl", "m.onnx", "by-open"], mode
    )


def test_a_replaced_file_keeps_its_mode_as_open_keeps_it(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    os.chmod(path, 0o640)
    cr.save({"w": cr.zeros(2)}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_train_outputs_get_the_mode_the_umask_gives(tmp_path):
    code = textwrap.dedent(
        f"""
        import os, sys
        os.umask(0o027)
        from chainrule.cli.main import main
        sys.exit(main({[*TINY_TRAIN, "--out", str(tmp_path / "run")]!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").iterdir()}
    assert modes == dict.fromkeys(OUTPUTS, 0o640)  # and the lock file is gone


# ----- our safetensors writer: the library's bytes, without its temporary file -----
def test_the_writer_gives_the_librarys_bytes_for_every_dtype_and_shape():
    from safetensors.numpy import save as library_save

    rng = np.random.default_rng(0)
    tensors = {}
    for dtype in safetensors_file._CODES:
        name = dtype.name
        tensors[name] = (rng.normal(size=(2, 3)) * 9).astype(dtype)
        tensors["0d-" + name] = np.array(7, dtype)
        tensors["empty-" + name] = np.zeros((0, 4), dtype)
        tensors["ü-" + name] = np.ones(3, dtype)  # a name beyond ASCII
    buf = io.BytesIO()
    safetensors_file.write(buf, tensors, {"k": '{"a": [1, "\\u00e9"]}'}, "test")
    assert buf.getvalue() == library_save(tensors, metadata={"k": '{"a": [1, "\\u00e9"]}'})
