"""Curves of a captioner's training run: losses and validation exact match per epoch."""

from __future__ import annotations

import os


def plot_caption_curves(rows: list[dict], path: str, title: str = "") -> None:
    """Draws train/val loss and val greedy exact match per epoch into ``path`` (PNG), atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(ep, [r["train_loss"] for r in rows], "o-", label="train (per token)")
    if rows and rows[0].get("val_loss") is not None:
        a1.plot(ep, [r["val_loss"] for r in rows], "s-", label="validation (all 5 references)")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy")
    a1.set_yscale("log")
    a1.legend()
    a1.grid(alpha=0.3)
    if rows and rows[0].get("val_exact_match") is not None:
        a2.plot(ep, [r["val_exact_match"] for r in rows], "s-", color="C1", label="validation")
    a2.set_xlabel("epoch")
    a2.set_ylabel("exact match (greedy)")
    a2.set_ylim(0, 1)
    a2.legend()
    a2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
