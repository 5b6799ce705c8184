"""chainrule.utils.data's additions to PyTorch's protocol: the fast path (``get_batch``) gives
the batches the per-example path gives, the seeded order is the documented permutation and
resumes through ``state_dict`` and ``batches``, an order drawn afresh is refused by name, and
the captioner's batches are a DataLoader over caption pairs in the seeded order they had."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import data as legacy
from chainrule.captioning.data import CaptionBatches, CaptionPairs, encode_references
from chainrule.datasets import ImageDataset
from chainrule.datasets.vocab import Vocabulary
from chainrule.utils import data as crd


class Rows(crd.Dataset):
    """The rows of two arrays, one example at a time (no fast path)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return cr.from_numpy(self.x[i]), cr.tensor(self.y[i])


def test_fast_path_gives_the_batches_of_the_per_example_path():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((23, 3)).astype(np.float32), np.arange(23) % 5
    fast = list(crd.DataLoader(crd.TensorDataset(x, y), batch_size=5, shuffle=True, seed=4))
    slow = list(crd.DataLoader(Rows(x, y), batch_size=5, shuffle=True, seed=4))
    assert len(fast) == len(slow) == 5
    for a, b in zip(fast, slow, strict=True):
        assert type(a) is type(b) is list
        for ta, tb in zip(a, b, strict=True):
            assert isinstance(ta, cr.Tensor) and ta.dtype == tb.dtype
            np.testing.assert_array_equal(ta.numpy(), tb.numpy())


def test_seeded_order_is_the_documented_permutation():
    ds = crd.TensorDataset(np.arange(11)[:, None])
    loader = crd.DataLoader(ds, batch_size=4, shuffle=True, seed=9)
    assert isinstance(loader.sampler, crd.SeededRandomSampler)
    for epoch in range(3):
        want = np.random.default_rng([9, epoch]).permutation(11)
        got = np.concatenate([b[0].numpy()[:, 0] for b in loader])
        np.testing.assert_array_equal(got, want)


def test_batches_from_a_position_are_what_a_restored_loader_gives():
    ds = crd.TensorDataset(np.arange(20)[:, None])
    a = crd.DataLoader(ds, batch_size=3, shuffle=True, seed=2)
    b = crd.DataLoader(ds, batch_size=3, shuffle=True, seed=2)
    b.load_state_dict({"seed": 2, "epoch": 1, "batches_done": 4})
    rest = [x[0].numpy().tolist() for x in a.batches(1, 4)]
    assert rest == [x[0].numpy().tolist() for x in b]
    assert a.state_dict()["epoch"] == 2 and a.state_dict()["batches_done"] == 0


def test_an_order_drawn_afresh_is_not_resumable_and_says_so():
    loader = crd.DataLoader(list(range(6)), batch_size=2, shuffle=True)
    assert isinstance(loader.sampler, crd.RandomSampler)  # PyTorch's: no seed given
    for call in (loader.state_dict, lambda: loader.batches(0, 0), lambda: loader.order(0)):
        with pytest.raises(TypeError, match=r"RandomSampler.*cannot be resumed.*seed="):
            call()
    with pytest.raises(ValueError, match="seed and generator exclude each other"):
        crd.DataLoader([1, 2], shuffle=True, seed=1, generator=cr.Generator())


def test_a_non_int_batch_size_is_both_pytorchs_value_error_and_a_type_error():
    for kind in (ValueError, TypeError):
        with pytest.raises(kind, match="batch_size should be a positive integer value"):
            crd.DataLoader([1, 2], batch_size=2.0)


def test_image_dataset_batches_are_lists_of_tensors_as_default_collate_makes():
    images = np.random.default_rng(1).random((6, 1, 4, 4)).astype(np.float32)
    ds = ImageDataset(images, np.arange(6), classes=list("abcdef"))
    fast = next(iter(crd.DataLoader(ds, batch_size=4)))
    slow = crd.default_collate([ds[i] for i in range(4)])
    assert type(fast) is type(slow) is list
    np.testing.assert_array_equal(fast[0].numpy(), slow[0].numpy())
    assert fast[1].dtype == slow[1].dtype == np.int64


def test_chainrule_data_is_an_alias():
    assert legacy.DataLoader is crd.DataLoader and legacy.Dataset is crd.Dataset
    assert legacy.TensorDataset is legacy.ArrayDataset is crd.TensorDataset
    assert legacy.Subset is crd.Subset


def test_caption_batches_keep_their_seeded_draws():
    vocab = Vocabulary(["a", "bag", "coat", "dress", "shirt", "sandal"])
    caps = [[f"a {w}" for w in ("bag", "coat", "dress", "shirt", "sandal")]] * 9
    refs = encode_references(caps, vocab)
    images = np.arange(9, dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 2, 2), "f4")
    batches = CaptionBatches(images, refs, vocab, batch_size=4, seed=5)
    assert isinstance(batches.loader, crd.DataLoader)
    assert isinstance(batches.loader.dataset, CaptionPairs)
    for epoch in range(2):
        rng = np.random.default_rng([5, epoch])  # the order CaptionBatches always drew
        scenes, ref = rng.permutation(9), rng.integers(0, 5, size=9)
        got = list(batches.epoch(epoch))
        np.testing.assert_array_equal(np.concatenate([b.index for b in got]), scenes)
        words = [vocab.decode(t) for b in got for t in b.targets]
        assert words == [caps[s][r] for s, r in zip(scenes, ref, strict=True)]
        np.testing.assert_array_equal(got[0].images, images[scenes[:4]])
