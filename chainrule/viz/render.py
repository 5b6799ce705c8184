"""``Graph``: DOT text that renders itself with Graphviz's ``dot`` program (SVG, PNG, PDF).

``dot`` is driven through ``subprocess`` rather than the ``graphviz`` package from PyPI: that package
is itself a thin wrapper that runs the same program, the DOT text is written by us anyway, and one
dependency fewer means one thing fewer to break. Where ``dot`` is missing, the DOT text is written
instead and the error says how to render it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from chainrule.serialization import write_atomically

FORMATS = ("svg", "png", "pdf")
TEXT_FORMATS = ("dot", "gv")
PNG_DPI = 150  # sharp enough to read edge labels in a README at the picture's natural size
# A PNG at most this wide (a README's width on a large screen, two on a laptop): a wider graph
# is rendered at a lower dpi, down to MIN_DPI, where 10-point edge labels are still 12.5 px.
MAX_PNG_WIDTH = 1600
MIN_DPI = 90


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed; the DOT text was written instead."""


def dot_binary() -> str | None:
    """The path of Graphviz's ``dot``, or None where it is not installed."""
    return shutil.which("dot")


class Graph:
    """A picture of a computational graph, as DOT text.

    ``source`` is the DOT text; ``save(path)`` renders it by the path's suffix (``.svg``, ``.png``,
    ``.pdf``; ``.dot`` writes the text); ``pipe(format)`` returns the rendered bytes; Jupyter shows
    it inline through ``_repr_svg_``.
    """

    def __init__(self, source: str, nodes: int = 0, turnable: bool = False):
        self.source = source
        self.nodes = nodes
        # Whether a left-to-right graph too wide for a PNG may be drawn top to bottom instead
        # (draw's default direction, as opposed to one the caller chose).
        self.turnable = turnable

    def pipe(self, format: str = "svg", dpi: int | None = None, source: str | None = None) -> bytes:
        """The graph (or the DOT text ``source``) rendered by ``dot`` as ``format`` (svg, png
        or pdf) bytes."""
        if format not in FORMATS:
            raise ValueError(f"draw: format must be one of {', '.join(FORMATS)}, got {format!r}")
        dot = dot_binary()
        if dot is None:
            raise GraphvizNotFoundError(
                "draw: Graphviz's 'dot' program was not found. Install Graphviz (Debian/Ubuntu: "
                "apt-get install graphviz), or write the DOT text with .save('graph.dot') and run "
                f"dot -T{format} graph.dot -o graph.{format}"
            )
        cmd = [dot, f"-T{format}"]
        if dpi is not None:
            cmd.append(f"-Gdpi={dpi}")
        text = self.source if source is None else source
        proc = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=300)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(
                f"draw: dot failed: {err[0] if err else 'exit ' + str(proc.returncode)}"
            )
        return proc.stdout

    def save(self, path, format: str | None = None, dpi: int | None = None) -> Path:
        """Writes the picture to ``path``; the format comes from its suffix, else ``format``.

        PNG is rendered at ``dpi``; by default at 150 dpi, or where that is wider than 1,600 px
        at fewer dpi (not below 90), turned top to bottom where the graph allows it and a
        left-to-right drawing is still too wide (``png_fit``). Where ``dot`` is missing, the DOT text is
        written next to ``path`` (suffix ``.dot``) and ``GraphvizNotFoundError`` says how to render
        it. Returns the path written.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(
                f"draw: cannot write {path}: folder {path.parent} does not exist"
            )
        suffix = path.suffix.lower().lstrip(".")
        if suffix in FORMATS + TEXT_FORMATS:
            fmt = suffix
        else:
            fmt = format or "svg"
            path = path.with_name(path.name + "." + fmt)
        if fmt in TEXT_FORMATS:
            _write(path, self.source.encode())
            return path
        if dot_binary() is None:
            dot_path = path.with_suffix(".dot")
            _write(dot_path, self.source.encode())
            raise GraphvizNotFoundError(
                f"draw: Graphviz's 'dot' program was not found, so {path} was not made; the graph "
                f"is written as DOT text to {dot_path}. Install Graphviz (Debian/Ubuntu: apt-get "
                f"install graphviz) and run: dot -T{fmt} {dot_path} -o {path}"
            )
        source = None
        if fmt == "png" and dpi is None:
            dpi, source = self.png_fit()
        _write(path, self.pipe(fmt, dpi=dpi, source=source))
        return path

    def png_fit(self) -> tuple[int, str]:
        """The dpi and DOT text of a PNG at most ``MAX_PNG_WIDTH`` px wide: 150 dpi where that
        fits, else as many dpi as fit down to ``MIN_DPI``; a turnable left-to-right graph still
        too wide there is drawn top to bottom."""
        source = self.source
        width = self._inches(source)
        if width * MIN_DPI > MAX_PNG_WIDTH and self.turnable and "rankdir=LR" in source:
            turned = source.replace("rankdir=LR", "rankdir=TB", 1)
            if self._inches(turned) < width:
                source, width = turned, self._inches(turned)
        # (dot rounds the pixel size up and adds a pixel of margin: keep 10 px in hand.)
        dpi = min(PNG_DPI, int((MAX_PNG_WIDTH - 10) / width)) if width > 0 else PNG_DPI
        return max(dpi, MIN_DPI), source

    def _inches(self, source: str) -> float:
        """The picture's width in inches: the drawing's (``dot -Tplain``'s first line) and
        dot's default pad of 4 points on each side."""
        plain = self.pipe_plain(source)
        first = plain.split("\n", 1)[0].split()
        return float(first[2]) * float(first[1]) + 8 / 72 if len(first) > 3 else 0.0

    def pipe_plain(self, source: str) -> str:
        proc = subprocess.run(
            [dot_binary(), "-Tplain"], input=source.encode(), capture_output=True, timeout=300
        )
        return proc.stdout.decode(errors="replace") if proc.returncode == 0 else ""

    def _repr_svg_(self) -> str | None:
        """Jupyter's inline picture (None, and so the text repr, where ``dot`` is missing)."""
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFoundError:
            return None

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return (
            f"<chainrule.viz.Graph of {self.nodes} nodes: .source is the DOT text, "
            ".save('graph.svg' or 'graph.png') renders it>"
        )


def _write(path: Path, data: bytes) -> None:
    """Writes atomically: a reader never sees half a picture."""

    def fill(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    write_atomically(path, fill, "viz")
