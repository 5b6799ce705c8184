"""The texts' error-against-weight picture of a ``--learn`` run: the output as a function of the
learned input, with each step's point marked, numbered and joined to the next by an arrow.
Where the learned input is a vector or a matrix, the output after each step instead."""

from __future__ import annotations

import warnings
from pathlib import Path

from chainrule.backend import xp
from chainrule.explain.i18n import plural, tr


def plot_learning(run, path: str) -> str:
    """Draws ``run`` (a ``Learning``) into ``path``; the format follows the suffix."""
    from chainrule.errors import require_extra

    require_extra("cli", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    lang = run.lang
    run.plot_note = None
    if lang == "zh" and not _cjk_font():
        # Without a CJK font the words would be empty boxes: English words, and say why.
        lang = "en"
        run.plot_note = (
            "no font with Chinese characters was found (Debian: fonts-wqy-microhei, which setup.sh installs), so the "
            "picture's words are in English"
        )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        if xp.size(run.updates[0].value) == 1:
            _against_value(ax, run, lang)
        else:
            _against_step(ax, run, lang)
        with warnings.catch_warnings():
            # Names in Chinese without a CJK font: the note above says so, once.
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return str(Path(path))


def _against_value(ax, run, lang: str) -> None:
    name, out = run.name, run.out
    xs = [float(xp.asarray(u.value).reshape(())) for u in run.updates]
    ys = [u.output for u in run.updates]
    xs.append(float(xp.asarray(run.updates[-1].new_value).reshape(())))
    ys.append(run.updates[-1].new_output)
    lo, hi = min(xs), max(xs)
    pad = (hi - lo) * 0.15 or max(abs(lo), 1.0) * 0.5
    grid = xp.linspace(lo - pad, hi + pad, 400)
    with xp.errstate(all="ignore"):
        curve = [run.curve(v) for v in grid]
    ax.plot(grid, curve, color="#1f77b4", label=tr("plot_curve", lang, out=out, name=name))
    ax.plot(xs, ys, "o", color="#d62728", label=tr("plot_visited", lang), zorder=3)
    for k in range(len(xs) - 1):
        ax.annotate(
            "",
            xy=(xs[k + 1], ys[k + 1]),
            xytext=(xs[k], ys[k]),
            arrowprops=dict(arrowstyle="->", color="#d62728", lw=1),
        )
    for k, (x, y) in enumerate(zip(xs, ys)):
        if k < 12 or k == len(xs) - 1:  # number the first steps and the last
            ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(4, 6), fontsize=9)
    n = len(run.updates)
    ax.set_title(
        tr("plot_title", lang, out=out, name=name, steps=n, s=plural(n, lang), lr=f"{run.lr:g}"),
        fontsize=11,
    )
    ax.set_xlabel(name)
    ax.set_ylabel(out)
    ax.legend(fontsize=9)


def _against_step(ax, run, lang: str) -> None:
    name, out = run.name, run.out
    steps = list(range(len(run.updates) + 1))
    ys = [run.updates[0].output] + [u.new_output for u in run.updates]
    ax.plot(steps, ys, "o-", color="#d62728")
    ax.set_title(tr("plot_steps_title", lang, out=out, name=name, lr=f"{run.lr:g}"), fontsize=11)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax.set_xlabel(tr("plot_step", lang))
    ax.set_ylabel(out)


_CJK = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)


def _cjk_font() -> bool:
    """Puts a font with CJK glyphs (Noto CJK, WenQuanYi, ...) first where one is installed;
    False where there is none. A font installed after matplotlib built its font cache is not in
    that cache: the font folders are then searched once and what is found is added."""
    from matplotlib import font_manager, rcParams

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(_CJK):
        for path in font_manager.findSystemFonts():
            if any(k in path.lower() for k in ("wqy", "cjk", "uming", "droidsansfallback")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a file matplotlib cannot read
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
    for want in _CJK:
        if want in names:
            if rcParams["font.sans-serif"][0] != want:
                rcParams["font.sans-serif"] = [want, *rcParams["font.sans-serif"]]
            return True
    return False
