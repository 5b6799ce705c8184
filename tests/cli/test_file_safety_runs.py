"""Issue 28: one writer per run folder, and no temporary file surviving a kill. Each case that
involves another process or a kill runs it as a fresh subprocess."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import chainrule as cr
from chainrule.captioning import CaptionTrainConfig, train_captioner
from chainrule.cli.main import main
from chainrule.serialization import load_metadata
from chainrule.training import run_folder, trainer
from chainrule.training.run_folder import LOCK_NAME, RunFolderInUse
from chainrule.training.trainer import TrainConfig, train

TINY_TRAIN = ["train", "nielsen", "--data", "digits", "--limit", "64"]
OURS = re.compile(r"\..*\.\d+\.[0-9a-f]{8}\.chainrule\.tmp")
HOLDER = textwrap.dedent(
    """
    import sys, time
    from chainrule.training import run_folder
    with run_folder.hold(sys.argv[1]):
        print("held", flush=True)
        time.sleep(300)
    """
)


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), err
    return err[0]


@pytest.fixture
def held(tmp_path):
    """A run folder whose lock another process holds; that process is killed afterwards."""
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE,
                         text=True)  # fmt: skip
    try:
        assert p.stdout.readline() == "held\n"
        yield out, p
    finally:
        p.kill()
        p.wait()


def test_a_second_train_on_a_folder_in_use_is_refused_at_once(held, capsys, monkeypatch):
    out, holder = held
    monkeypatch.setattr(trainer, "load_splits", lambda *a: pytest.fail("data was read"))
    t0 = time.monotonic()
    msg = one_line_error(capsys, [*TINY_TRAIN, "--epochs", "1", "--out", str(out)])
    assert time.monotonic() - t0 < 10
    assert msg == (
        f"chainrule train: error: the folder {out} is in use by another run (process "
        f"{holder.pid}); wait for it to end, or give another --out"
    )
    with pytest.raises(RunFolderInUse, match=f"process {holder.pid}"):
        train(TrainConfig(model="nielsen", data="digits", epochs=1, out=str(out)), log=print)
    assert os.listdir(out) == [LOCK_NAME]  # nothing written by the refused runs


def test_a_second_caption_train_on_a_folder_in_use_is_refused(held, capsys):
    out, holder = held
    msg = one_line_error(capsys, ["caption", "train", "--train-size", "8", "--val-size", "0",
                                  "--epochs", "1", "--out", str(out)])  # fmt: skip
    assert f"the folder {out} is in use by another run (process {holder.pid})" in msg
    with pytest.raises(RunFolderInUse):
        train_captioner(CaptionTrainConfig(out=str(out), train_size=8, val_size=0))


def test_a_killed_holder_leaves_no_lock(held, capsys):
    out, holder = held
    holder.kill()
    holder.wait()
    assert (out / LOCK_NAME).read_text().strip() == str(holder.pid)  # the file stays...
    assert main([*TINY_TRAIN, "--epochs", "1", "--out", str(out)]) == 0  # ...but no lock
    assert sorted(os.listdir(out)) == sorted(run_folder.OUTPUTS)  # the lock file is removed


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ZeroDivisionError), run_folder.hold(str(out)):
        (out / "x").write_text("")
        1 / 0
    with run_folder.hold(str(out)):  # taken again at once
        assert (out / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert os.listdir(out) == ["x"]


def test_a_refused_run_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(ValueError, match="boom"), run_folder.hold(str(out)):
        raise ValueError("boom")
    assert not out.exists()


# ----- kills during a save -----
KILLED_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import chainrule as cr
    from chainrule.serialization import save_load
    path = sys.argv[1]
    cr.save({"w": np.arange(5.0)}, path, metadata={"epoch": 1})
    real = save_load._write_file
    def killed_midway(tensors, filename, metadata):
        real(tensors, filename, metadata)  # the whole file, written but not yet renamed
        os.kill(os.getpid(), signal.SIGKILL)
    save_load._write_file = killed_midway
    cr.save({"w": np.zeros(10**6)}, path, metadata={"epoch": 2})
    """
)


def test_a_kill_during_a_save_leaves_only_our_temporary_and_the_next_save_removes_it(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], capture_output=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    (left,) = [n for n in os.listdir(tmp_path) if n != path.name]
    assert OURS.fullmatch(left) and left.startswith(".ckpt.safetensors.")
    assert load_metadata(path) == {"epoch": 1}  # the old file, whole
    cr.save({"w": cr.ones(1)}, tmp_path / "other.safetensors")  # any write into the folder
    assert sorted(os.listdir(tmp_path)) == ["ckpt.safetensors", "other.safetensors"]


LOOPING_SAVE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import chainrule as cr
    x = {"w": np.random.default_rng(0).normal(size=8 * 2**20)}  # 64 MB
    print("ready", flush=True)
    for i in range(10**6):
        cr.save(x, sys.argv[1], metadata={"i": i})
    """
)


@pytest.mark.slow
def test_kills_at_random_moments_of_saves_leave_only_our_temporaries(tmp_path):
    """SIGKILL at random moments of real 64 MB saves: no file but ours is ever left (no
    library's .tmpXXXXXX), the checkpoint is always whole, and the next save cleans up."""
    path = tmp_path / "big.safetensors"
    rng = random.Random(0)
    mid_write = 0
    for _ in range(6):
        p = subprocess.Popen([sys.executable, "-c", LOOPING_SAVE, str(path)],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert p.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        others = [n for n in os.listdir(tmp_path) if n != path.name]
        assert all(OURS.fullmatch(n) for n in others), others
        mid_write += bool(others)
        if path.exists():
            assert cr.load(path)["w"].shape == (8 * 2**20,)  # whole: its digest checks
    assert mid_write, "no kill landed inside a write: the test showed nothing"
    cr.save({"w": cr.ones(1)}, tmp_path / "small.safetensors")
    assert set(os.listdir(tmp_path)) <= {path.name, "small.safetensors"}


# ----- two real runs on one folder, then --resume of the killed one -----
@pytest.mark.slow
def test_two_concurrent_runs_the_second_refused_and_the_killed_first_resumes(tmp_path):
    out = tmp_path / "run"
    cli = [sys.executable, "-m", "chainrule.cli.main"]
    first = subprocess.Popen([*cli, *TINY_TRAIN, "--epochs", "100000", "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.safetensors").exists():  # running, and one epoch saved
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        t0 = time.monotonic()
        second = subprocess.run([*cli, *TINY_TRAIN, "--epochs", "2", "--out", str(out)],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        took = time.monotonic() - t0
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert second.returncode == 2
    err = second.stderr.strip().splitlines()
    assert err[0] == (
        f"chainrule train: error: the folder {out} is in use by another run (process "
        f"{first.pid}); wait for it to end, or give another --out"
    )
    assert took < 30, f"refused after {took:.1f} s"  # at once: the import, then the lock
    epoch = load_metadata(out / "checkpoint.safetensors")["epoch"]
    resumed = subprocess.run([*cli, *TINY_TRAIN, "--epochs", str(epoch + 1), "--out", str(out),
                              "--resume"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {out}/checkpoint.safetensors after epoch {epoch}" in resumed.stdout
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == epoch + 1
    assert not [n for n in os.listdir(out) if n.endswith(".tmp") or n == LOCK_NAME]


GARBLING_HOLDER = textwrap.dedent(
    """
    import sys, time
    from chainrule.training import run_folder
    with run_folder.hold(sys.argv[1]):
        open(sys.argv[1] + "/.chainrule.lock", "w").write("12\\nerror: forged line")
        print("held", flush=True)
        time.sleep(300)
    """
)


def test_a_lock_file_holding_anything_but_a_pid_is_quoted_as_unknown(tmp_path, capsys):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-c", GARBLING_HOLDER, str(out)],
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert p.stdout.readline() == "held\n"
        msg = one_line_error(capsys, [*TINY_TRAIN, "--epochs", "1", "--out", str(out)])
    finally:
        p.kill()
        p.wait()
    assert f"the folder {out} is in use by another run (process unknown)" in msg
