"""Fixtures shared by the serialization tests."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.captioning import save_captioner
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models.captioner import Captioner


@pytest.fixture
def captioner_file(tmp_path):
    vocab = scene_vocabulary()
    cr.manual_seed(0)
    model = Captioner(vocab_size=len(vocab), channels=(4, 8, 8), embed_dim=8, hidden_dim=16,
                      attention_dim=8, dropout=0.0)  # fmt: skip
    path = tmp_path / "captioner.safetensors"
    save_captioner(str(path), model, vocab, {"epoch": 1})
    return path
