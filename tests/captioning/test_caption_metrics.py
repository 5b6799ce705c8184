"""Caption scoring: pycocoevalcap's scorers on captions as written, exact match, the baseline."""

import shutil

import pytest

from chainrule.datasets.fashion_scenes import scene_captions
from chainrule.metrics import most_common_caption, score_captions, trivial_baseline

pytest.importorskip("pycocoevalcap")

SCENES = [
    [(0, 4), (3, 8)],
    [(1, 9)],
    [(0, 7), (1, 7), (3, 8)],
    [(2, 3), (3, 0)],
]
REFS = [scene_captions(s) for s in SCENES]
KS = [len(s) for s in SCENES]


def test_identical_candidates_score_perfectly():
    scores = score_captions([r[0] for r in REFS], REFS, num_items=KS, meteor=False)
    assert scores["BLEU-1"] == pytest.approx(1.0)
    assert scores["BLEU-4"] == pytest.approx(1.0)
    assert scores["ROUGE-L"] == pytest.approx(1.0)
    assert scores["exact_match"] == 1.0
    assert {k: scores[f"exact_match_k{k}"] for k in (1, 2, 3)} == {1: 1.0, 2: 1.0, 3: 1.0}
    assert "METEOR" not in scores
    assert all(isinstance(v, float) for v in scores.values())


def test_any_reference_counts_as_exact():
    scores = score_captions([r[4] for r in REFS], REFS, meteor=False)
    assert scores["exact_match"] == 1.0
    assert not any(k.startswith("exact_match_k") for k in scores)


def test_wrong_captions_score_lower():
    right = score_captions([r[0] for r in REFS], REFS, num_items=KS, meteor=False)
    # Wrong class and position in scene 0, wrong count in scene 2; scenes 1 and 3 right.
    candidates = [
        "a coat in the top left and a sneaker in the bottom left",
        REFS[1][2],
        "two items a sneaker and a bag",
        REFS[3][1],
    ]
    wrong = score_captions(candidates, REFS, num_items=KS, meteor=False)
    for metric in ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr-D", "exact_match"):
        assert wrong[metric] < right[metric], metric
    assert wrong["exact_match"] == 0.5
    assert (wrong["exact_match_k1"], wrong["exact_match_k2"], wrong["exact_match_k3"]) == (
        1.0,
        0.5,
        0.0,
    )


def test_cider_d_is_pycocoevalcap_cider_on_the_captions_as_written():
    from pycocoevalcap.cider.cider import Cider

    candidates = ["a bag", "a single ankle boot", "two sneakers", "a dress above a t-shirt"]
    gts = {i: r for i, r in enumerate(REFS)}
    res = {i: [c] for i, c in enumerate(candidates)}
    expected, _ = Cider().compute_score(gts, res)
    assert score_captions(candidates, REFS, meteor=False)["CIDEr-D"] == pytest.approx(expected)


def test_score_captions_validates():
    with pytest.raises(ValueError, match="2 candidates but 1"):
        score_captions(["a", "b"], [["a"]], meteor=False)
    with pytest.raises(ValueError, match="no reference"):
        score_captions(["a"], [[]], meteor=False)
    with pytest.raises(ValueError, match="num_items"):
        score_captions(["a"], [["a"]], num_items=[1, 2], meteor=False)


def test_most_common_caption_and_trivial_baseline():
    train = [scene_captions([(3, 2)])] * 3 + [scene_captions([(0, 1), (1, 2)])]
    assert most_common_caption(train) == "a pullover in the bottom right"
    assert most_common_caption(train, which=2) == "a single pullover"
    caption, scores = trivial_baseline(train, REFS, num_items=KS, meteor=False)
    assert caption == "a pullover in the bottom right"
    assert scores["exact_match"] == 0.0
    assert 0.0 < scores["BLEU-1"] < 1.0
    with pytest.raises(ValueError):
        most_common_caption([])


@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs Java")
def test_meteor_runs_with_java():
    # One JVM start (a few seconds): three exact candidates and one wrong one.
    candidates = [r[0] for r in REFS[:3]] + ["a bag"]
    scores = score_captions(candidates, REFS, meteor=True)
    assert 0.5 < scores["METEOR"] < 1.0


def test_meteor_without_java_is_skipped_or_required(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "METEOR" not in score_captions(["a bag"], [["a bag"]])
    with pytest.raises(RuntimeError, match="java"):
        score_captions(["a bag"], [["a bag"]], meteor=True)
