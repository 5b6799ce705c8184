"""Evaluation metrics: caption scoring (BLEU, METEOR, ROUGE-L, CIDEr-D, exact match)."""

from chainrule.metrics.captions import most_common_caption, score_captions, trivial_baseline

__all__ = ["most_common_caption", "score_captions", "trivial_baseline"]
