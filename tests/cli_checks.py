"""Helpers for the tests of what a command-line user sees: one error line, and the memory a
refusal took."""

from __future__ import annotations

import tracemalloc
import warnings

from chainrule.cli.main import main

MB = 1 << 20


def one_line_error(capsys, argv, code: int = 2) -> str:
    """Runs the CLI; asserts exit code ``code`` and one error line (plus the fixed debug hint),
    and returns that line."""
    assert main(argv) == code
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), out.err
    assert "Traceback" not in out.out + out.err
    return err[0]


class peak_memory:
    """``with peak_memory() as p: ...`` then ``p.mb``: the most memory Python and NumPy held at
    once inside the block, above what they held at its start."""

    def __enter__(self):
        tracemalloc.start()
        tracemalloc.reset_peak()
        self.start = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        self.mb = (tracemalloc.get_traced_memory()[1] - self.start) / MB
        tracemalloc.stop()
        return False


def run_cli(capsys, argv) -> tuple[int, str, str, list]:
    """Exit code, stdout, stderr and the warnings raised (pytest's filterwarnings would turn a
    RuntimeWarning into an error; record them instead, to name them in the failure)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err, [str(w.message) for w in caught]
