"""Curves of a captioner's training run: losses and validation exact match per epoch."""

from __future__ import annotations

from chainrule.training.curves import Panel, plot_panels


def plot_caption_curves(rows: list[dict], path: str, title: str = "") -> None:
    """Draws train/val loss and val greedy exact match per epoch into ``path`` (PNG), atomically."""
    plot_panels(
        rows,
        path,
        [
            Panel(
                "cross-entropy",
                [
                    ("train_loss", "train (per token)", "o-"),
                    ("val_loss", "validation (all 5 references)", "s-"),
                ],
                log=True,
            ),
            Panel(
                "exact match (greedy)",
                [("val_exact_match", "validation", "s-")],
                ylim=(0, 1),
                colors=["C1"],
            ),
        ],
        title,
    )
