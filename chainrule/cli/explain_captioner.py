"""``chainrule explain --model captioner-step``: one decoding step of the image captioner
(``chainrule.models.captioner``) on Fashion Scenes, explained: the image through the encoder,
the initial state, attention, and one LSTM step with its gates as nodes in boxes
(``cr.explain.gates()``), up to the cross-entropy of the caption's first word.
"""

from __future__ import annotations


def explain_captioner_step(
    batch: int = 1,
    index: int = 0,
    seed: int = 0,
    root: str | None = None,
    checkpoint: str | None = None,
):
    """The first word of scenes ``index .. index+batch-1`` of Fashion Scenes' training split:
    ``<start>`` in, the cross-entropy against each scene's first reference caption's first word
    out (the model in eval mode: no dropout). A ``StepExplanation``."""
    from chainrule import nn
    from chainrule.autograd.creation import tensor
    from chainrule.datasets import FashionScenes
    from chainrule.explain.gates import gates
    from chainrule.explain.model import explain_tensor
    from chainrule.models.captioner import Captioner
    from chainrule.random import manual_seed

    if batch < 1 or index < 0:
        raise ValueError(f"--batch {batch} --index {index}: choose --batch >= 1, --index >= 0")
    ds = FashionScenes("train", size=index + batch, root=root)
    if checkpoint is not None:
        from chainrule.captioning.captioner_state import load_captioner

        model, _, _ = load_captioner(checkpoint, vocab=ds.vocab)
    else:
        manual_seed(seed)
        model = Captioner(vocab_size=len(ds.vocab))
    model.eval()
    rows = range(index, index + batch)
    first = [int(ds.vocab.encode(ds.captions[i][0])[0]) for i in rows]
    images = tensor(ds.images[index : index + batch])
    with gates():  # the LSTM cell's gates as nodes
        features = model.encode(images)
        state = model.init_state(features)
        start = tensor([ds.vocab.start_index] * batch)
        logits, _, _ = model.step(start, state, features)
        loss = nn.functional.cross_entropy(logits, tensor(first))
    words = ", ".join(repr(ds.vocab.tokens[k]) for k in first)
    what = f"one step of the captioner on Fashion Scenes (batch {batch}, first word {words})"
    return explain_tensor(loss, modules=model, what=what)
