"""The captioner: model gradients, losses, data, decoding (greedy, beam search), checkpoints,
training (overfitting, resume) and image reading."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning import (
    CaptionBatches,
    CaptionTrainConfig,
    attention_regularizer,
    beam_search,
    encode_references,
    greedy_decode,
    load_captioner,
    read_image,
    save_captioner,
    sequence_cross_entropy,
    train_captioner,
)
from chainrule.captioning.data import teacher_forcing
from chainrule.captioning.images import ImageError
from chainrule.datasets.fashion_scenes import FashionScenes, scene_vocabulary
from chainrule.datasets.vocab import Vocabulary
from chainrule.models.captioner import AttentionDecoder, Captioner, ShowTellDecoder
from chainrule.serialization import CheckpointError

VOCAB = scene_vocabulary()
TINY = dict(channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, dropout=0.0)
QUIET = dict(log=lambda s: None, progress=False)


def tiny_model(attention=True, seed=0, **kw) -> Captioner:
    cr.manual_seed(seed)
    return Captioner(vocab_size=len(VOCAB), attention=attention, **{**TINY, **kw})


# ----- gradients -----
def test_attention_decoder_step_gradcheck(float64, rng):
    cr.manual_seed(1)
    dec = AttentionDecoder(vocab_size=7, embed_dim=3, feature_dim=4, hidden_dim=5,
                           attention_dim=3, dropout=0.0)  # fmt: skip
    feats = cr.tensor(rng.standard_normal((2, 6, 4)), requires_grad=True)
    h = cr.tensor(rng.standard_normal((2, 5)) * 0.5, requires_grad=True)
    c = cr.tensor(rng.standard_normal((2, 5)) * 0.5, requires_grad=True)
    tokens = cr.tensor(np.array([1, 4]))

    def step(f, h, c):
        projected = dec.attention.project_features(f)
        logits, (h2, c2, _), alpha = dec.step(tokens, (h, c, projected), f)
        return logits.sum() * 0.3 + (h2 * c2).sum() + (alpha * alpha).sum()

    assert cr.gradcheck(step, (feats, h, c))
    # and the parameters, through a whole teacher-forced pass of 3 words (gradcheck perturbs
    # its inputs in place, so passing the Parameters themselves checks the module's use of them)
    inputs = cr.tensor(np.array([[1, 4, 5], [1, 6, 2]]))
    f = feats.detach()

    def whole(*params):
        logits, alphas = dec(f, inputs)
        return (logits * logits).sum() * 0.1 + (alphas * alphas).sum()

    named = dict(dec.named_parameters())
    assert len(named) >= 14
    assert cr.gradcheck(whole, list(named.values()))


def test_show_tell_decoder_gradcheck(float64, rng):
    cr.manual_seed(2)
    dec = ShowTellDecoder(vocab_size=6, embed_dim=3, feature_dim=2, num_regions=4,
                          hidden_dim=4, dropout=0.0)  # fmt: skip
    feats = cr.tensor(rng.standard_normal((2, 4, 2)), requires_grad=True)
    inputs = cr.tensor(np.array([[1, 3, 4], [1, 5, 2]]))

    def f(x):
        logits, _ = dec(x, inputs)
        return (logits * logits).sum() * 0.1

    assert cr.gradcheck(f, (feats,))


# ----- losses -----
def test_sequence_cross_entropy_ignores_padding(rng):
    logits = rng.standard_normal((2, 3, 5))
    targets = np.array([[1, 2, 0], [3, 0, 0]])
    x = cr.tensor(logits, requires_grad=True)
    loss = sequence_cross_entropy(x, targets, pad_index=0)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -(logp[0, 0, 1] + logp[0, 1, 2] + logp[1, 0, 3]) / 3
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    loss.backward()
    assert np.all(x.grad.numpy()[0, 2] == 0) and np.all(x.grad.numpy()[1, 1:] == 0)


def test_attention_regularizer_by_hand():
    alphas = np.zeros((1, 3, 2))
    alphas[0, 0] = [1.0, 0.0]
    alphas[0, 1] = [0.5, 0.5]
    alphas[0, 2] = [0.0, 1.0]  # a padded step: left out
    targets = np.array([[5, 2, 0]])
    r = attention_regularizer(cr.tensor(alphas), targets)
    # Σ_t α = [1.5, 0.5]: mean((1 - 1.5)², (1 - 0.5)²) = 0.25
    np.testing.assert_allclose(r.item(), 0.25)


# ----- data -----
def test_teacher_forcing_shifts_and_trims():
    refs = VOCAB.encode_batch(["a bag", "a single coat"])
    inputs, targets = teacher_forcing(refs, VOCAB)
    assert targets.shape == (2, 4)  # "a single coat <end>"
    assert VOCAB.decode(targets[1]) == "a single coat"
    assert inputs[0, 0] == VOCAB.start_index
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])


def test_caption_batches_are_seeded_and_visit_every_scene_once():
    images = np.zeros((10, 1, 64, 64), np.float32)
    caps = [[f"a {w}" for w in ("bag", "coat", "dress", "shirt", "sandal")]] * 10
    refs = encode_references(caps, VOCAB)
    b = CaptionBatches(images, refs, VOCAB, batch_size=4, seed=7)
    e0 = [x.index.tolist() for x in b.epoch(0)]
    assert len(b) == 3 and sorted(i for batch in e0 for i in batch) == list(range(10))
    assert e0 == [x.index.tolist() for x in b.epoch(0)]  # same seed, same order
    assert e0 != [x.index.tolist() for x in b.epoch(1)]  # another epoch, another order
    assert [x.index.tolist() for x in b.epoch(0, start_step=1)] == e0[1:]  # resumable
    words = {VOCAB.decode(t) for x in b.epoch(0) for t in x.targets}
    assert len(words) > 1  # references drawn at random
    all5 = CaptionBatches(images, refs, VOCAB, batch_size=4, seed=7, all_references=True)
    assert len(all5) == 13 and all5.pairs_per_epoch == 50


# ----- decoding -----
@pytest.mark.parametrize("attention", [True, False])
def test_beam_one_equals_greedy(attention, rng):
    model = tiny_model(attention, seed=3)
    images = rng.random((6, 1, 64, 64)).astype(np.float32)
    g = greedy_decode(model, images, VOCAB, max_len=12)
    b = beam_search(model, images, VOCAB, beam_size=1, max_len=12)
    assert g.tokens == b.tokens
    np.testing.assert_allclose(g.scores, b.scores, rtol=1e-5)
    if attention:
        for a, c in zip(g.alphas, b.alphas, strict=True):
            np.testing.assert_array_equal(a, c)
    else:
        assert g.alphas is None and b.alphas is None


class MarkovModel:
    """A stand-in decoder whose next-word logits depend only on the previous word: the best
    caption of a few words can then be found by enumerating every sequence."""

    training = False

    def __init__(self, table):
        self.table = table  # (V, V) logits

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def encode(self, images):
        return cr.tensor(np.zeros((images.shape[0], 1, 1), np.float32))

    def init_state(self, features):
        return (cr.tensor(np.zeros((features.shape[0], 1), np.float32)),)

    def step(self, tokens, state, features):
        return cr.tensor(self.table[tokens.numpy()]), state, None


def test_beam_search_finds_the_best_sequence_of_a_markov_model(rng):
    vocab = Vocabulary(["x", "y", "z"])  # 7 tokens, <end> = 2
    v = len(vocab)
    table = rng.standard_normal((v, v)).astype(np.float32) * 2
    model = MarkovModel(table)
    logp = table - np.log(np.exp(table).sum(1, keepdims=True))
    max_len = 3
    best, best_score = None, -np.inf
    # every sequence of up to max_len tokens, ending with <end> or cut at max_len
    import itertools

    for length in range(1, max_len + 1):
        for seq in itertools.product(range(v), repeat=length):
            if vocab.end_index in seq[:-1]:
                continue
            if length < max_len and seq[-1] != vocab.end_index:
                continue
            prev, s = vocab.start_index, 0.0
            for tok in seq:
                s += logp[prev, tok]
                prev = tok
            if s > best_score:
                best, best_score = seq, s
    images = np.zeros((1, 1, 8, 8), np.float32)
    result = beam_search(model, images, vocab, beam_size=v * v, max_len=max_len)
    expected = list(best[:-1]) if best[-1] == vocab.end_index else list(best)
    assert result.tokens[0] == expected
    np.testing.assert_allclose(result.scores[0], best_score, rtol=1e-5)
    # greedy: the argmax chain
    g = greedy_decode(model, images, vocab, max_len=max_len)
    prev, chain = vocab.start_index, []
    for _ in range(max_len):
        prev = int(np.argmax(table[prev]))
        if prev == vocab.end_index:
            break
        chain.append(prev)
    assert g.tokens[0] == chain
    assert result.scores[0] >= g.scores[0] - 1e-9


def test_decoding_returns_one_attention_row_per_word_and_end(rng):
    model = tiny_model(True, seed=4)
    r = beam_search(model, rng.random((3, 1, 64, 64)).astype(np.float32), VOCAB, 2, max_len=6)
    for tokens, alpha in zip(r.tokens, r.alphas, strict=True):
        assert alpha.shape == (min(len(tokens) + 1, 6), 64)
        np.testing.assert_allclose(alpha.sum(1), 1.0, rtol=1e-5)


# ----- checkpoints -----
def test_checkpoint_round_trip_and_kind_and_vocabulary_errors(tmp_path, rng):
    model = tiny_model(True, seed=5)
    path = str(tmp_path / "model.safetensors")
    save_captioner(path, model, VOCAB, {"epoch": 1})
    loaded, vocab, meta = load_captioner(path, vocab=VOCAB)
    assert vocab == VOCAB and meta["epoch"] == 1 and loaded.attention
    images = rng.random((2, 1, 64, 64)).astype(np.float32)
    assert greedy_decode(model, images, VOCAB).tokens == greedy_decode(loaded, images, VOCAB).tokens

    # another vocabulary
    other = Vocabulary([w if w != "coat" else "jacket" for w in VOCAB.tokens[4:]])
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: vocabulary mismatch: token \d+ is 'coat'"
    ):
        load_captioner(path, vocab=other)
    # a classifier's checkpoint
    from chainrule.models.mlp import MLP
    from chainrule.training.classifier_state import save_model

    clf = str(tmp_path / "clf.safetensors")
    save_model(clf, MLP([4, 3, 2]), {"model": "mlp", "data": "digits"}, 1)
    with pytest.raises(
        CheckpointError, match=r"clf\.safetensors: not a captioner.*classifier.*'mlp'"
    ):
        load_captioner(clf)
    # not a checkpoint at all
    junk = tmp_path / "junk.safetensors"
    junk.write_text("hello")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        load_captioner(str(junk))
    with pytest.raises(FileNotFoundError, match=r"missing\.safetensors"):
        load_captioner(str(tmp_path / "missing.safetensors"))


# ----- training -----
def test_overfitting_50_scenes_drives_the_loss_near_zero():
    ds = FashionScenes("train", size=50)
    # One reference each (the grouped one, the shortest), so that the loss can reach 0: with
    # five references per image it is bounded below by the entropy of the choice among them.
    refs = encode_references([[c[4]] for c in ds.captions], VOCAB)
    inputs, targets = teacher_forcing(refs[:, 0], VOCAB)
    cr.manual_seed(0)
    model = Captioner(vocab_size=len(VOCAB), attention=True, channels=(8, 16, 16), embed_dim=16,
                      hidden_dim=64, attention_dim=16, dropout=0.0)  # fmt: skip
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    x, xi = cr.from_numpy(ds.images), cr.from_numpy(inputs)
    t0 = time.perf_counter()
    first = last = None
    for step in range(250):  # noqa: B007  (step is reported below)
        logits, _ = model(x, xi)
        loss = sequence_cross_entropy(logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = loss.item()
        first = first if first is not None else last
        if last < 0.05:
            break
    assert first > 2.0
    assert last < 0.05, f"loss {last:.4f} after {step + 1} steps ({time.perf_counter() - t0:.0f} s)"
    # teacher-forced, (almost) every word right (in training mode: BatchNorm's running averages lag
    # behind weights that moved this fast)
    words = logits.data.argmax(-1)
    mask = targets != VOCAB.pad_index
    assert (words[mask] == targets[mask]).mean() >= 0.99


def params_of(path) -> dict:
    return {k: v.numpy() for k, v in cr.load(path).items()}


def test_resume_gives_the_same_parameters_as_training_straight(tmp_path):
    base = dict(train_size=48, val_size=8, batch_size=16, schedule="constant", lr=3e-3,
                **{**TINY, "dropout": 0.2})  # fmt: skip
    straight = CaptionTrainConfig(**base, epochs=2, out=str(tmp_path / "straight"))
    train_captioner(straight, **QUIET)
    split = CaptionTrainConfig(**base, epochs=1, out=str(tmp_path / "split"))
    train_captioner(split, **QUIET)
    split.epochs, split.minutes = 2, 0.0  # stops after one step: resumed mid-epoch next
    r = train_captioner(split, resume=True, **QUIET)
    assert r["stopped_early"] and r["position"] == {"epoch": 1, "step": 1}
    split.minutes = None
    train_captioner(split, resume=True, **QUIET)
    a = params_of(tmp_path / "straight" / "model.safetensors")
    b = params_of(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows = [json.loads(line) for line in open(tmp_path / "split" / "metrics.jsonl")]
    assert [(r["epoch"], r["partial"]) for r in rows] == [(1, False), (2, True), (2, True)]
    assert all(r["val_exact_match"] is not None for r in rows)
    assert (tmp_path / "split" / "curves.png").stat().st_size > 0


def test_resume_refuses_other_settings(tmp_path):
    cfg = CaptionTrainConfig(train_size=16, val_size=4, batch_size=16, epochs=1,
                             out=str(tmp_path), **TINY)  # fmt: skip
    train_captioner(cfg, **QUIET)
    cfg.attention, cfg.epochs = False, 2
    with pytest.raises(ValueError, match=r"attention=True.*attention=False"):
        train_captioner(cfg, resume=True, **QUIET)


# ----- images -----
def test_read_image_converts_and_resizes_saying_so(tmp_path):
    from PIL import Image

    gray = np.zeros((64, 64), np.uint8)
    gray[10:20, 30:40] = 255
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    x, notes = read_image(tmp_path / "g.png")
    assert x.shape == (1, 64, 64) and x.dtype == np.float32 and notes == []
    assert x.max() == 1.0 and x[0, 15, 35] == 1.0
    rgb = np.zeros((128, 96, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    x, notes = read_image(tmp_path / "c.png")
    assert x.shape == (1, 64, 64)
    assert notes == ["converted from colour (RGB) to grayscale", "resized from 96x128 to 64x64"]
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ImageError, match=r"bad\.png: cannot read the image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError, match=r"nope\.png: no such image file"):
        read_image(tmp_path / "nope.png")
