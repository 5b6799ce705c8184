"""Caption scoring: the COCO caption metrics, and exact match, as CAPTIONS.md prescribes.

BLEU-1..4, ROUGE-L, CIDEr-D and (where Java runs) METEOR come from ``pycocoevalcap``'s scorers,
called on the captions as written: they are already tokenised, so COCO's PTB tokenizer (a Java
process) is not run. Exact match, the share of candidates equal to one of their scene's
references, is reported overall and by number of items, because BLEU and CIDEr forgive a lot on a
grammar this regular.

Example:
    >>> score_captions(["a coat"], [["a coat", "a single coat"]])["BLEU-4"]
"""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from collections.abc import Sequence

from chainrule.errors import require_extra


def score_captions(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    num_items: Sequence[int] | None = None,
    meteor: bool | None = None,
) -> dict[str, float]:
    """Score one candidate caption per image against that image's references.

    Args:
        candidates: N captions, words separated by spaces.
        references: N lists of reference captions (Fashion Scenes: 5 each).
        num_items: optional N ints (items per scene): adds exact match per count.
        meteor: ``None`` runs METEOR when ``java`` is on PATH and works (a warning says why when
            it does not); ``True`` requires it; ``False`` skips it (it takes a few seconds).

    Returns:
        ``{"BLEU-1", ..., "BLEU-4", "METEOR" (if run), "ROUGE-L", "CIDEr-D", "exact_match",
        "exact_match_k1", "exact_match_k2", ...}``: floats; ``exact_match_kK`` over the images
        with ``num_items == K``, one key per count present.

    Notes:
        ``pycocoevalcap.cider`` (1.2) is CIDEr-D: it clips candidate n-gram counts to the
        reference's and applies the Gaussian length penalty (sigma 6), which plain CIDEr lacks;
        the COCO leaderboard calls it "CIDEr". Its document frequencies come from the references
        being scored, so scores of different reference sets are not comparable.
        BLEU is corpus-level (pycocoevalcap's "closest" reference length).
    """
    require_extra("caption", "pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _check_lengths(candidates, references, num_items)
    # Whitespace normalised: a stray newline would derail METEOR's line protocol.
    res = {i: [" ".join(c.split())] for i, c in enumerate(candidates)}
    gts = {i: [" ".join(r.split()) for r in refs] for i, refs in enumerate(references)}

    scores: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    for n, b in enumerate(bleu, start=1):
        scores[f"BLEU-{n}"] = float(b)
    if meteor is not False:
        m = _meteor(gts, res, required=bool(meteor))
        if m is not None:
            scores["METEOR"] = m
    scores["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    scores["CIDEr-D"] = float(Cider().compute_score(gts, res)[0])
    scores.update(_exact_match(res, gts, num_items))
    return scores


def _check_lengths(candidates, references, num_items) -> None:
    """Raises ValueError unless there is one reference list (not empty) and one num_items
    entry per candidate."""
    if len(candidates) != len(references):
        raise ValueError(
            f"score_captions: {len(candidates)} candidates but {len(references)} reference lists"
        )
    if not candidates:
        raise ValueError("score_captions: nothing to score")
    if num_items is not None and len(num_items) != len(candidates):
        raise ValueError(
            f"score_captions: {len(candidates)} candidates but {len(num_items)} num_items"
        )
    empty = [i for i, refs in enumerate(references) if len(refs) == 0]
    if empty:
        raise ValueError(f"score_captions: image {empty[0]} has no reference caption")


def _exact_match(res: dict, gts: dict, num_items) -> dict[str, float]:
    """The share of candidates equal to one of their references, overall and per item count."""
    hits = [res[i][0] in gts[i] for i in res]
    scores = {"exact_match": sum(hits) / len(hits)}
    if num_items is not None:
        for k in sorted(set(int(k) for k in num_items)):
            sel = [h for h, kk in zip(hits, num_items, strict=True) if kk == k]
            scores[f"exact_match_k{k}"] = sum(sel) / len(sel)
    return scores


def _meteor(gts: dict, res: dict, required: bool) -> float | None:
    """METEOR 1.5 through pycocoevalcap's jar (runs offline), or None where Java cannot run it."""
    if shutil.which("java") is None:
        if required:
            raise RuntimeError("score_captions: METEOR needs `java` on PATH")
        return None
    require_extra("caption", "pycocoevalcap")
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = None
    try:
        scorer = Meteor()
        score, _ = scorer.compute_score(gts, res)
        return float(score)
    except (OSError, ValueError) as e:  # the JVM died: its output was empty or not a number
        if required:
            raise RuntimeError(f"score_captions: METEOR failed: {e}") from e
        warnings.warn(f"score_captions: METEOR skipped, the Java scorer failed: {e}", stacklevel=3)
        return None
    finally:
        # pycocoevalcap's Meteor keeps its lock if compute_score raises, and its __del__ then
        # waits on it forever; release it so the subprocess is reaped.
        if scorer is not None and scorer.lock.locked():
            scorer.lock.release()


def most_common_caption(captions: Sequence[Sequence[str]], which: int | None = None) -> str:
    """The most frequent caption of a corpus (ties: the first seen).

    Args:
        captions: N lists of reference captions (e.g. ``FashionScenes("train").captions``).
        which: count only reference ``which`` of each list (0: Fashion Scenes' positional
            caption); ``None`` counts them all.
    """
    counts: Counter[str] = Counter()
    for refs in captions:
        counts.update(refs if which is None else [refs[which]])
    if not counts:
        raise ValueError("most_common_caption: no captions")
    return counts.most_common(1)[0][0]


def trivial_baseline(
    train_captions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    num_items: Sequence[int] | None = None,
    which: int | None = 0,
    meteor: bool | None = None,
) -> tuple[str, dict[str, float]]:
    """Score the constant captioner: the most common training caption, for every image.

    Args:
        train_captions: the training corpus, N lists of references.
        references, num_items, meteor: as in ``score_captions``.
        which: as in ``most_common_caption``. The default 0 (positional captions) gives the
            baseline CAPTIONS.md quotes; counting all five favours a 2-3 word caption such as
            ``a single pullover``, which has no 4-grams and scores BLEU-4 near 0.

    Returns:
        ``(caption, scores)``.
    """
    caption = most_common_caption(train_captions, which)
    scores = score_captions([caption] * len(references), references, num_items, meteor)
    return caption, scores
