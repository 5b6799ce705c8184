"""Image captioning: data, losses, training, decoding, evaluation and pictures for the captioner
of ``chainrule.models.captioner`` (``chainrule caption ...`` on the command line).

Example:
    >>> from chainrule.captioning import CaptionTrainConfig, train_captioner, load_captioner
    >>> train_captioner(CaptionTrainConfig(attention=True, epochs=10, out="runs/cap"))
    >>> model, vocab, meta = load_captioner("runs/cap/model.safetensors")
    >>> vocab.decode_batch(beam_search(model, images, vocab, beam_size=3).tokens)
"""

from chainrule.captioning.attention_map import draw_attention
from chainrule.captioning.captioner_state import load_captioner, save_captioner
from chainrule.captioning.data import (
    CaptionBatch,
    CaptionBatches,
    CaptionPairs,
    CaptionSampler,
    encode_references,
)
from chainrule.captioning.decoding import Decoded, beam_search, decode, greedy_decode
from chainrule.captioning.evaluate import (
    caption_images,
    evaluate_captioner,
    exact_match,
    teacher_forced_loss,
)
from chainrule.captioning.images import ImageError, read_image
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.captioning.train import CaptionTrainConfig, train_captioner
