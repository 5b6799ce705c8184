"""Curves of a training run, drawn with matplotlib: one panel per quantity, one line per series."""

from __future__ import annotations

from dataclasses import dataclass, field

from chainrule.errors import require_extra
from chainrule.serialization import write_atomically


@dataclass
class Panel:
    """One subplot: ``series`` are (key in the epoch rows, legend label, marker style)."""

    ylabel: str
    series: list[tuple[str, str, str]]
    log: bool = False
    ylim: tuple[float, float] | None = None
    colors: list[str] = field(default_factory=list)


def plot_panels(rows: list[dict], path: str, panels: list[Panel], title: str = "") -> None:
    """Draws each panel's series against the epoch into ``path`` (PNG), atomically.

    A series whose key is missing or None in the first row is left out (e.g. no validation split).
    """
    require_extra("cli", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for i, (key, label, style) in enumerate(panel.series):
            if rows and rows[0].get(key) is not None:
                kw = {"color": panel.colors[i]} if i < len(panel.colors) else {}
                ax.plot(ep, [r[key] for r in rows], style, label=label, **kw)
        ax.set_xlabel("epoch")
        ax.set_ylabel(panel.ylabel)
        if panel.log:
            ax.set_yscale("log")
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        if ax.get_legend_handles_labels()[0]:  # a panel with no series (no validation) has none
            ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), "curves")
    finally:
        plt.close(fig)


def plot_curves(rows: list[dict], path: str, title: str = "") -> None:
    """Train/validation loss and accuracy per epoch of a classifier's run."""
    plot_panels(
        rows,
        path,
        [
            Panel("loss", [("train_loss", "train", "o-"), ("val_loss", "validation", "s-")]),
            Panel(
                "accuracy",
                [("train_accuracy", "train", "o-"), ("val_accuracy", "validation", "s-")],
            ),
        ],
        title,
    )
