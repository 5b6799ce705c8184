"""Ctrl-C (SIGINT) and SIGTERM for the ``chainrule`` command: at any moment, from its first
instruction to its last, one line ("chainrule: interrupted") and exit code 130 (SIGINT) or 143
(SIGTERM), never a traceback.

Three phases, because what an interruption may safely do changes as the command runs:

- **starting** (``guard_start``): Python is importing chainrule, NumPy, matplotlib. Nothing has
  been written, and an exception raised here may surface inside some library's import machinery
  (matplotlib's ``__set_name__`` wraps it in a RuntimeError) or outside any frame of ours. The
  handler says the line and ends the process at once.
- **running** (``handling``, around ``main``): the handler raises ``Interrupted`` (a
  ``KeyboardInterrupt``), so that every ``finally`` runs: the atomic writes remove their
  temporary files and leave each file as it was or complete; ``main`` says the line. It also
  records the signal, so that an interruption that some library wrapped into another exception
  is still known for one (``interrupted``).
- **ending**: once the line is said (or ``main`` returned), a signal ends the process at once.
  A second signal while the first one unwinds does the same, so that a hurried user is obeyed.

Imports only ``os``, ``signal`` and ``sys``: this module runs before everything heavy.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)
MESSAGE = "chainrule: interrupted"


class Interrupted(KeyboardInterrupt):
    """Raised by the running phase's handler; ``signum`` is the signal that came."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _State:
    received: int | None = None  # the first signal of this command, if one came
    said = False  # whether the line is written
    raising = False  # running phase: raise Interrupted (else: end at once)


def exit_code(signum: int | None) -> int:
    """The shell's code for a process ended by ``signum``: 128 + its number (130, 143)."""
    return 128 + (signum or signal.SIGINT)


def say() -> int:
    """Writes the line once (to ``sys.stderr``, where a caller may capture it) and returns the
    exit code of the interruption received."""
    if not _State.said:
        _State.said = True
        print(MESSAGE, file=sys.stderr, flush=True)
    return exit_code(_State.received)


def _end_now() -> None:
    """Says the line and ends the process, from inside the handler: the line goes straight to
    file descriptor 2, since the handler may have stopped a print() halfway (its stream's lock
    held); what the command printed before is flushed first, where the streams allow."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass  # a stream stopped mid-write may refuse; ending matters more
    if not _State.said:
        _State.said = True
        os.write(2, (MESSAGE + "\n").encode())
    os._exit(exit_code(_State.received))


def _handler(signum: int, frame: object) -> None:
    first = _State.received is None
    if first:
        _State.received = signum
    if _State.raising and first:
        raise Interrupted(signum)
    _end_now()


def _install() -> dict[int, object] | None:
    """Sets the handler for SIGINT and SIGTERM; returns the previous ones (None off the main
    thread, where Python lets no one set handlers)."""
    try:
        return {s: signal.signal(s, _handler) for s in SIGNALS}
    except ValueError:  # "signal only works in main thread of the main interpreter"
        return None


def guard_start() -> None:
    """The starting phase: from here to ``handling``, a signal says the line and ends the
    process. Called by ``chainrule/__init__.py`` first of all, when the process is the command."""
    _State.raising = False
    _install()


@contextmanager
def handling() -> Iterator[None]:
    """The running phase, around one run of the command; the handlers that were set before are
    set again on leaving (a test calling ``main`` keeps its own Ctrl-C)."""
    _State.received, _State.said, _State.raising = None, False, True
    previous = _install()
    try:
        yield
    finally:
        _State.raising = False  # ending: a late signal ends the process at once
        if previous is not None:
            for s, h in previous.items():
                signal.signal(s, h)  # type: ignore[arg-type]


def came() -> bool:
    """Whether a signal came during this run of the command."""
    return _State.received is not None


def interrupted(error: BaseException) -> bool:
    """Whether ``error`` ends the command because of an interruption: a signal came during this
    run, or ``error`` is a ``KeyboardInterrupt`` or holds one in its chain of causes (a library
    may wrap it, as Python wraps an exception raised inside ``__set_name__``)."""
    if came():
        return True
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def started_as_command() -> bool:
    """Whether this process is the ``chainrule`` command: its console script, or
    ``python -m chainrule`` / ``python -m chainrule.cli.main`` (asked while Python imports the
    package, before the module runs: then ``sys.argv[0]`` is "-m"). A program that imports
    chainrule keeps its own signal handling."""
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    if getattr(main, "__spec__", None) is None and script in ("chainrule", "chainrule-script.py"):
        return True
    if sys.argv[:1] != ["-m"]:
        return False
    return _module_run(getattr(sys, "orig_argv", [])) in ("chainrule", "chainrule.cli.main")


def _module_run(argv: list[str]) -> str | None:
    """The NAME of ``python ... -m NAME ...`` in the interpreter's own command line."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return next(args, None)
        if arg.startswith("-m"):
            return arg[2:]
        if arg in ("-X", "-W"):
            next(args, None)  # the option's value
        elif arg == "-c" or not arg.startswith("-"):
            return None  # a script or -c: the options have ended
    return None
