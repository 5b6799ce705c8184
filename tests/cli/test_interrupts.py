"""Ctrl-C and SIGTERM for the ``chainrule`` command (issue 28): one line, "chainrule: interrupted",
exit 130 (SIGINT) or 143 (SIGTERM), at any moment: while Python imports (the issue's 20-line
traceback), inside an import that wraps the exception (matplotlib's ``__set_name__``, which
showed as "error: Error calling __set_name__ ..." and exit 2), and while the command runs.

The signals here are real ones (``os.kill``), delivered to this process through ``main`` or to a
child process; the slow suite (test_interrupts_at_any_moment.py) sends them at every phase of every
subcommand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chainrule.cli import datasets as datasets_cli
from chainrule.cli import interrupts
from chainrule.cli.main import main

REPO = Path(__file__).resolve().parents[2]
CODE = {signal.SIGINT: 130, signal.SIGTERM: 143}


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINRULE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def signal_on_run(monkeypatch, make_it_happen) -> None:
    """Makes ``chainrule datasets`` call ``make_it_happen()`` while it runs."""

    def describe(root):
        make_it_happen()
        return []

    monkeypatch.setattr("chainrule.datasets.describe_datasets", describe)
    assert datasets_cli.run  # the command whose run() reaches describe_datasets


def kill_self(signum: int):
    return lambda: os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_command_runs_is_one_line_and_its_code(monkeypatch, capsys, signum):
    signal_on_run(monkeypatch, kill_self(signum))
    before = {s: signal.getsignal(s) for s in interrupts.SIGNALS}
    assert main(["datasets"]) == CODE[signum]
    out = capsys.readouterr()
    assert out.err == "chainrule: interrupted\n" and out.out == ""
    # main sets back the handlers it found (here pytest's), so a caller keeps its own Ctrl-C
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before


def _class_whose_set_name_is_interrupted() -> None:
    class Interrupting:
        def __set_name__(self, owner, name):
            os.kill(os.getpid(), signal.SIGINT)  # the handler raises right here

    type("Owner", (), {"attr": Interrupting()})


def test_an_interruption_that_python_wraps_is_still_one(monkeypatch, capsys):
    """Python 3.11 wraps an exception raised in ``__set_name__`` into a RuntimeError, as
    matplotlib's import met it; main knows it by the signal received."""
    signal_on_run(monkeypatch, _class_whose_set_name_is_interrupted)
    assert main(["datasets"]) == 130
    assert capsys.readouterr().err == "chainrule: interrupted\n"


def test_an_interruption_that_a_library_swallows_is_still_told(monkeypatch, capsys):
    """Python ignores an exception raised in ``__del__`` (it prints "Exception ignored ...");
    the command then ends with the interruption's code, not 0."""

    def swallowed():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt:
            pass

    signal_on_run(monkeypatch, swallowed)
    assert main(["datasets"]) == 143
    assert capsys.readouterr().err == "chainrule: interrupted\n"


def test_interrupted_reads_the_chain_of_causes(monkeypatch):
    monkeypatch.setattr(interrupts._State, "received", None)  # no signal came
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise RuntimeError("Error calling __set_name__") from e
    except RuntimeError as e:
        wrapped = e
    assert interrupts.interrupted(wrapped)
    assert not interrupts.interrupted(ValueError("no"))


@pytest.mark.parametrize(
    "argv, name",
    [
        (["python", "-m", "chainrule", "train"], "chainrule"),
        (["python", "-mchainrule.cli.main"], "chainrule.cli.main"),
        (["python", "-X", "importtime", "-u", "-m", "chainrule"], "chainrule"),
        (["python", "script.py", "-m", "chainrule"], None),
        (["python", "-c", "import chainrule", "-m", "chainrule"], None),
        (["python", "-m"], None),
    ],
)
def test_the_module_run_is_read_from_the_interpreters_command_line(argv, name):
    assert interrupts._module_run(argv) == name


def test_a_program_that_imports_chainrule_keeps_its_signal_handling():
    code = (
        "import signal; before = signal.getsignal(signal.SIGINT); import chainrule; "
        "assert signal.getsignal(signal.SIGINT) is before; "
        "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL; print('kept')"
    )
    p = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0 and p.stdout == "kept\n", p.stderr


@pytest.mark.parametrize(
    "entry, signum",
    [(["-m", "chainrule"], signal.SIGINT), (["-m", "chainrule.cli.main"], signal.SIGTERM)],
)
def test_a_signal_while_importing_is_one_line_and_its_code(tmp_path, entry, signum):
    """The issue's case: Ctrl-C in the first ~0.7 s, while Python imports chainrule and NumPy."""
    p = subprocess.Popen([sys.executable, *entry, "explain", "a*a", "--at", "a=2"], cwd=tmp_path,
                         env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    time.sleep(0.15)
    p.send_signal(signum)
    out, err = p.communicate(timeout=120)
    assert (p.returncode, err.decode()) == (CODE[signum], "chainrule: interrupted\n"), err
    assert out == b""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="the child reads Linux's /proc")
def test_sigterm_while_writing_a_checkpoint_leaves_a_folder_that_resumes_bit_for_bit(tmp_path):
    """In a fresh process: SIGTERM as epoch 2's checkpoint is renamed into place. Epoch 1's
    stays, no temporary file is left, and ``--resume`` ends equal to a run without a break.
    (The slow suite, test_interrupts_at_any_moment.py, does every phase and both signals.)"""
    from test_interrupts_at_any_moment import CHILD
    from test_resume_faults import assert_same_outputs, outputs

    from chainrule.serialization import save_load

    train = ["train", "nielsen", "--data", "digits", "--epochs", "2", "--limit", "128",
             "--batch-size", "32"]  # fmt: skip
    run = dict(env=child_env(), capture_output=True, text=True, timeout=600)
    straight, out = tmp_path / "straight", tmp_path / "out"
    assert subprocess.run([sys.executable, "-m", "chainrule", *train, "--out", str(straight)],
                          **run).returncode == 0  # fmt: skip
    p = subprocess.run([sys.executable, "-c", CHILD, "SIGTERM", "checkpoint-rename", "2",
                        str(tmp_path / "status"), *train, "--out", str(out)], **run)  # fmt: skip
    assert (p.returncode, p.stderr) == (143, "chainrule: interrupted\n")
    assert save_load.load_metadata(out / "checkpoint.safetensors")["epoch"] == 1
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    p = subprocess.run([sys.executable, "-m", "chainrule", *train, "--out", str(out), "--resume"],
                       **run)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert_same_outputs(outputs(out), outputs(straight))
