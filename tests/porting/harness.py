"""Runs a PyTorch program as it is and with only its imports changed to chainrule's, and compares
what the two print, number by number (see README.md beside this file)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
# The programs: every file here but this one and the test files that run them (test_*.py).
PROGRAMS = sorted(
    p.stem
    for p in HERE.glob("*.py")
    if p.stem not in ("harness", "__init__") and not p.stem.startswith("test_")
)

# The only lines that change: PyTorch's imports become chainrule's.
IMPORTS = [
    (re.compile(r"^import torch$", re.M), "import chainrule as torch"),
    (re.compile(r"^import torch\.(\S+) as (\w+)$", re.M), r"import chainrule.\1 as \2"),
    # `import torch.utils.data` binds the name torch as well; so does its one-line translation.
    (re.compile(r"^import torch\.(\S+)$", re.M), r"import chainrule.\1, chainrule as torch"),
    (re.compile(r"^from torch import (.*)$", re.M), r"from chainrule import \1"),
    (re.compile(r"^from torch\.(\S+) import (.*)$", re.M), r"from chainrule.\1 import \2"),
]
# How each library prints a size and a dtype ("torch.Size([64, 8])", "torch.int64"), the one
# difference in their words that is not a number: both are shown as chainrule shows them.
SIZE = re.compile(r"torch\.Size\(\[([^\]]*)\]\)")
NUMBER = re.compile(r"[-+]?\d+\.\d+(?:e[-+]?\d+)?|[-+]?\d+\.?e[-+]?\d+|[-+]?\d+")
# A printed tensor names the op that made it; the two libraries name their backward nodes
# differently (PyTorch's "MulBackward0", chainrule's "mul"), so only the mention is compared.
GRAD_FN = re.compile(r"grad_fn=<[^>]*>")


def ported(source: str) -> str:
    """``source`` with its PyTorch imports changed to chainrule's, and nothing else."""
    for pattern, repl in IMPORTS:
        source = pattern.sub(repl, source)
    return source


def changed_lines(source: str) -> list[tuple[str, str]]:
    """The (original, ported) lines that differ: the proof that only imports were touched."""
    return [(a, b) for a, b in zip(source.splitlines(), ported(source).splitlines()) if a != b]


def run(name: str, framework: str, steps: int | None = None) -> str:
    """What program ``name`` prints under ``framework`` ("torch" or "chainrule")."""
    source = (HERE / f"{name}.py").read_text()
    if framework == "chainrule":
        source = ported(source)
    out = io.StringIO()
    env = {"__name__": "__main__", "__file__": str(HERE / f"{name}.py")}
    old = os.environ.get("PORTING_STEPS")
    if steps is not None:
        os.environ["PORTING_STEPS"] = str(steps)
    random.seed(0)
    threads = None
    if framework == "torch":
        import torch

        # One thread: these programs are small, and PyTorch's worker threads spin-wait for
        # cores that the machine's other processes hold (seconds lost per program).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, str(HERE / f"{name}.py"), "exec"), env)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
        if steps is not None:
            if old is None:
                os.environ.pop("PORTING_STEPS", None)
            else:
                os.environ["PORTING_STEPS"] = old
    return out.getvalue()


def normalised(text: str) -> str:
    """torch's output with sizes as tuples and dtypes without the ``torch.`` prefix."""

    def size(m: re.Match) -> str:
        dims = [d.strip() for d in m.group(1).split(",") if d.strip()]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    return re.sub(r"\btorch\.(?=[a-z]+\d*\b)", "", SIZE.sub(size, text))


def numbers(text: str) -> np.ndarray:
    """Every number printed, in order (not the digits of a ``grad_fn`` name)."""
    return np.array([float(m) for m in NUMBER.findall(GRAD_FN.sub("", text))])


def last_places(text: str) -> np.ndarray:
    """For each number printed, the value of one unit in its last printed place: 1e-4 for
    ``0.1257`` (PyTorch prints a tensor with four decimals), 1e-9 for ``1.0000e-05``, 0 for an
    integer, which must then be equal."""
    places = []
    for m in NUMBER.findall(GRAD_FN.sub("", text)):
        mantissa, _, exponent = m.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        exact = "." not in mantissa and not exponent
        places.append(0.0 if exact else 10.0 ** (int(exponent or 0) - decimals))
    return np.array(places)


def words(text: str) -> str:
    """What was printed, numbers aside: each number becomes ``#``, a ``grad_fn`` keeps only its
    mention, and spaces are layout (a printed tensor pads its columns by its own widths)."""
    return re.sub(r"\s+", "", NUMBER.sub("#", GRAD_FN.sub("grad_fn=<>", text)))


def compare(name: str, steps: int | None = None, rtol: float = 2e-4, atol: float = 1e-5):
    """Runs ``name`` under both and returns (torch's output, chainrule's output, agreement).

    Numbers agree within ``atol + rtol * |chainrule's|`` or, where PyTorch printed fewer digits
    than that resolves, within one unit of PyTorch's last printed place (two prints of nearly
    equal numbers can round to neighbouring last digits)."""
    want, got = normalised(run(name, "torch", steps)), run(name, "chainrule", steps)
    a, b = numbers(want), numbers(got)
    same = words(want) == words(got) and a.shape == b.shape
    if same:
        tolerance = np.maximum(atol + rtol * np.abs(b), last_places(want))
        same = bool(np.all(np.abs(a - b) <= tolerance))
    return want, got, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("programs", nargs="*", default=PROGRAMS)
    parser.add_argument("--full", action="store_true", help="the originals' step counts")
    args = parser.parse_args()
    failures = 0
    for name in args.programs:
        want, got, same = compare(name, None if args.full else 300)
        last = lambda s: (s.strip().splitlines() or [""])[-1]  # noqa: E731
        print(f"{name}: {'same numbers' if same else 'DIFFERENT'}")
        print(f"  torch:     {last(want)}\n  chainrule: {last(got)}")
        failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent))
    raise SystemExit(main())
