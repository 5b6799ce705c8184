"""Fashion Scenes (CAPTIONS.md v1.1): composition, grammar, vocabulary, COCO export and reader."""

import itertools
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule.datasets.coco import CocoCaptions, export_coco
from chainrule.datasets.fashion_scenes import (
    CLASS_NAMES,
    SPLITS,
    grammar_words,
    make_scenes,
    scene_captions,
    scene_vocabulary,
)
from chainrule.datasets.vocab import Vocabulary, tokenize

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
COAT, SHIRT, SNEAKER, BAG, BOOT, DRESS = 4, 6, 7, 8, 9, 3
TL, TR, BL, BR = 0, 1, 2, 3


def synthetic(m=40, seed=0):
    """m distinct random 28×28 photographs with labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(m, 28, 28), dtype=np.uint8)
    labels = (np.arange(m) % 10).astype(np.int64)
    return images, labels


# ---- composition -----------------------------------------------------------------------------


def test_make_scenes_follows_the_spec_pseudo_code():
    images, labels = synthetic()
    lo, hi, seed = 5, 37, 11
    canvases, items = make_scenes(images, labels, n=3, seed=seed, lo=lo, hi=hi)

    # The spec's draws, written out here independently, for three scenes from one generator.
    rng = np.random.default_rng(seed)
    for s in range(3):
        k = rng.integers(1, 4)
        cells = np.sort(rng.choice(4, size=k, replace=False))
        src = rng.integers(lo, hi, size=k)
        off = rng.integers(0, 5, size=(k, 2))
        expected = np.zeros((64, 64), np.uint8)
        for i in range(k):
            top = 32 * (cells[i] // 2) + off[i, 0]
            left = 32 * (cells[i] % 2) + off[i, 1]
            expected[top : top + 28, left : left + 28] = images[src[i]]
        np.testing.assert_array_equal(canvases[s], expected)
        assert items[s] == [(int(c), int(labels[j]), int(j)) for c, j in zip(cells, src)]


def test_make_scenes_first_scenes_pinned():
    # The train pool with seed 1: draws that any implementation of the spec must reproduce
    # (label = index % 10 here). A change of draw order or of NumPy's generator shows up here.
    images = np.zeros((50_000, 28, 28), np.uint8)
    labels = np.arange(50_000, dtype=np.int64) % 10
    _, items = make_scenes(images, labels, n=3, seed=1, lo=0, hi=50_000)
    assert items == [
        [(1, 2, 1742), (3, 7, 7207)],
        [(0, 1, 32191), (2, 9, 27479), (3, 6, 4286)],
        [(1, 1, 39421)],
    ]


def test_make_scenes_is_reproducible_and_seeded():
    images, labels = synthetic()
    a, items_a = make_scenes(images, labels, 50, seed=3, lo=0, hi=40)
    b, items_b = make_scenes(images, labels, 50, seed=3, lo=0, hi=40)
    c, _ = make_scenes(images, labels, 50, seed=4, lo=0, hi=40)
    np.testing.assert_array_equal(a, b)
    assert items_a == items_b
    assert not np.array_equal(a, c)
    # A larger n keeps the first scenes: the generator is consumed scene by scene.
    d, items_d = make_scenes(images, labels, 80, seed=3, lo=0, hi=40)
    np.testing.assert_array_equal(d[:50], a)
    assert items_d[:50] == items_a
    assert a.dtype == np.uint8 and a.shape == (50, 64, 64)


def test_make_scenes_draws_only_from_its_pool_and_keeps_the_maximum():
    images, labels = synthetic()
    canvases, items = make_scenes(images, labels, 300, seed=0, lo=10, hi=20)
    sources = {j for scene in items for _, _, j in scene}
    assert sources <= set(range(10, 20))
    assert {len(scene) for scene in items} == {1, 2, 3}
    for canvas, scene in zip(canvases, items):
        cells = [c for c, _, _ in scene]
        assert cells == sorted(set(cells))
        for cell in set(range(4)) - set(cells):  # empty cells stay background
            top, left = 32 * (cell // 2), 32 * (cell % 2)
            assert not canvas[top : top + 32, left : left + 32].any()
    # Pasting keeps the maximum: a darker photograph over a brighter canvas changes nothing.
    ones = np.full((2, 28, 28), 200, np.uint8)
    ones[1] = 0
    bright, _ = make_scenes(ones, np.zeros(2, np.int64), 20, seed=0, lo=0, hi=1)
    assert set(np.unique(bright)) <= {0, 200}


def test_make_scenes_validates_inputs():
    images, labels = synthetic()
    with pytest.raises(ValueError, match="uint8"):
        make_scenes(images.astype(np.float32), labels, 1, 0, 0, 10)
    with pytest.raises(ValueError, match="lo < hi"):
        make_scenes(images, labels, 1, 0, 10, 10)
    with pytest.raises(ValueError, match="labels"):
        make_scenes(images, labels[:5], 1, 0, 0, 10)


def test_pools_are_disjoint():
    train, val, test = SPLITS["train"], SPLITS["val"], SPLITS["test"]
    assert train.train_file and val.train_file and not test.train_file
    assert (train.lo, train.hi, val.lo, val.hi, test.lo, test.hi) == (
        0,
        50_000,
        50_000,
        60_000,
        0,
        10_000,
    )
    assert train.hi <= val.lo  # same file, disjoint ranges
    assert [(s.size, s.seed) for s in (train, val, test)] == [(30_000, 1), (1_000, 2), (2_000, 3)]


# ---- grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            [(TR, BOOT)],  # one item: captions 1 and 2 coincide
            [
                "an ankle boot in the top right",
                "an ankle boot in the top right",
                "a single ankle boot",
                "one item an ankle boot",
                "an ankle boot",
            ],
        ),
        (
            [(BL, COAT), (BR, DRESS)],  # two in a row
            [
                "a coat in the bottom left and a dress in the bottom right",
                "a dress in the bottom right and a coat in the bottom left",
                "a coat to the left of a dress",
                "two items a coat and a dress",
                "a coat and a dress",
            ],
        ),
        (
            [(TR, BAG), (BR, BOOT)],  # two in a column
            [
                "a bag in the top right and an ankle boot in the bottom right",
                "an ankle boot in the bottom right and a bag in the top right",
                "a bag above an ankle boot",
                "two items a bag and an ankle boot",
                "a bag and an ankle boot",
            ],
        ),
        (
            [(BR, BAG), (TL, COAT)],  # a diagonal, given out of order
            [
                "a coat in the top left and a bag in the bottom right",
                "a bag in the bottom right and a coat in the top left",
                "a coat and a bag on a diagonal",
                "two items a coat and a bag",
                "a coat and a bag",
            ],
        ),
        (
            [(TR, COAT), (BL, SNEAKER)],  # the other diagonal
            [
                "a coat in the top right and a sneaker in the bottom left",
                "a sneaker in the bottom left and a coat in the top right",
                "a coat and a sneaker on a diagonal",
                "two items a coat and a sneaker",
                "a coat and a sneaker",
            ],
        ),
        (
            [(TL, SNEAKER), (BL, SNEAKER)],  # a repeat: counting spells it out
            [
                "a sneaker in the top left and a sneaker in the bottom left",
                "a sneaker in the bottom left and a sneaker in the top left",
                "a sneaker above a sneaker",
                "two items a sneaker and a sneaker",
                "two sneakers",
            ],
        ),
        (
            [(TL, SNEAKER), (TR, SNEAKER), (BR, BAG)],  # three: bottom right is alone in its row
            [
                "a sneaker in the top left and a sneaker in the top right and a bag in the "
                "bottom right",
                "a bag in the bottom right and a sneaker in the top right and a sneaker in the "
                "top left",
                "three items with a bag in the bottom right",
                "three items a sneaker a sneaker and a bag",
                "two sneakers and a bag",
            ],
        ),
        (
            [(TL, SHIRT), (BL, SHIRT), (BR, SHIRT)],  # three of a kind; top left alone
            [
                "a shirt in the top left and a shirt in the bottom left and a shirt in the "
                "bottom right",
                "a shirt in the bottom right and a shirt in the bottom left and a shirt in the "
                "top left",
                "three items with a shirt in the top left",
                "three items a shirt a shirt and a shirt",
                "three shirts",
            ],
        ),
        (
            [(TL, COAT), (TR, BAG), (BL, DRESS)],  # three distinct classes
            [
                "a coat in the top left and a bag in the top right and a dress in the bottom left",
                "a dress in the bottom left and a bag in the top right and a coat in the top left",
                "three items with a dress in the bottom left",
                "three items a coat a bag and a dress",
                "a coat a bag and a dress",
            ],
        ),
        (
            [(TL, BAG), (TR, COAT), (BR, BAG)],  # a repeat split by another class
            [
                "a bag in the top left and a coat in the top right and a bag in the bottom right",
                "a bag in the bottom right and a coat in the top right and a bag in the top left",
                "three items with a bag in the bottom right",
                "three items a bag a coat and a bag",
                "two bags and a coat",
            ],
        ),
    ],
)
def test_grammar_on_hand_made_scenes(items, expected):
    assert scene_captions(items) == expected
    # The source index that make_scenes adds is ignored.
    assert scene_captions([(c, lab, 123) for c, lab in items]) == expected


def test_articles_and_plurals():
    plurals = [scene_captions([(0, lab), (1, lab)])[4] for lab in range(10)]
    assert plurals == [
        "two t-shirts",
        "two trousers",
        "two pullovers",
        "two dresses",
        "two coats",
        "two sandals",
        "two shirts",
        "two sneakers",
        "two bags",
        "two ankle boots",
    ]
    singles = [scene_captions([(0, lab)])[4] for lab in range(10)]
    assert singles == [("an " if n[0] in "aeiou" else "a ") + n for n in CLASS_NAMES]
    assert singles[9] == "an ankle boot" and singles[0] == "a t-shirt"


def test_scene_captions_rejects_bad_scenes():
    for bad in ([], [(0, 1), (0, 2)], [(0, 1), (1, 1), (2, 1), (3, 1)], [(4, 0)], [(0, 10)]):
        with pytest.raises(ValueError):
            scene_captions(bad)


def all_scenes():
    """Every possible scene: 4·10 + 6·100 + 4·1000 = 4,640."""
    for k in (1, 2, 3):
        for cells in itertools.combinations(range(4), k):
            for labels in itertools.product(range(10), repeat=k):
                yield list(zip(cells, labels))


def test_vocabulary_is_every_word_of_the_grammar():
    scenes = list(all_scenes())
    assert len(scenes) == 4_640
    captions = [c for scene in scenes for c in scene_captions(scene)]
    words = {w for c in captions for w in c.split()}
    assert sorted(words) == grammar_words()
    vocab = scene_vocabulary()
    assert len(vocab) == 46
    assert vocab.tokens[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    assert vocab.tokens[4:] == sorted(words)
    longest = max(captions, key=lambda c: len(c.split()))
    assert len(longest.split()) == 23
    assert longest.startswith("an ankle boot in the")
    # Every caption fits 24 tokens with <end>, and the round trip is exact.
    ids = vocab.encode_batch(captions)
    assert ids.shape == (len(captions), 24) and ids.dtype == np.int64
    assert vocab.unk_index not in ids
    assert vocab.decode_batch(ids) == captions
    assert (ids == vocab.end_index).sum(axis=1).tolist() == [1] * len(captions)


# ---- vocabulary ------------------------------------------------------------------------------


def test_vocabulary_encode_decode():
    vocab = Vocabulary(["a", "bag", "coat"])
    np.testing.assert_array_equal(vocab.encode("a bag", max_len=5), [4, 5, 2, 0, 0])
    np.testing.assert_array_equal(vocab.encode("a hat", max_len=3), [4, 3, 2])  # <unk>
    assert vocab.decode([1, 4, 6, 2, 5, 5]) == "a coat"  # <start> skipped, stops at <end>
    assert vocab.decode(np.array([4, 5, 0, 0])) == "a bag"
    with pytest.raises(ValueError, match="max_len"):
        vocab.encode("a bag coat", max_len=3)
    np.testing.assert_array_equal(vocab.encode("a bag coat", max_len=3, truncate=True), [4, 5, 2])
    assert "bag" in vocab and "hat" not in vocab and vocab.index("hat") == vocab.unk_index
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="special"):
        Vocabulary(["<end>"])


def test_vocabulary_from_captions_and_json(tmp_path):
    caps = [["a dog runs", "a dog"], ["a cat sleeps"]]
    vocab = Vocabulary.from_captions(caps, min_count=2)
    assert vocab.tokens[4:] == ["a", "dog"]
    assert Vocabulary.from_captions(caps).tokens[4:] == ["a", "cat", "dog", "runs", "sleeps"]
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert Vocabulary.load(path) == vocab
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        Vocabulary.load(tmp_path / "missing.json")


def test_tokenize_free_text():
    assert tokenize("A man's T-shirt, folded.  On a BED!") == [
        "a",
        "man's",
        "t-shirt",
        "folded",
        "on",
        "a",
        "bed",
    ]


# ---- COCO layout -----------------------------------------------------------------------------


def synthetic_dataset(n=12):
    images, labels = synthetic()
    canvases, items = make_scenes(images, labels, n, seed=5, lo=0, hi=40)
    return SimpleNamespace(canvases=canvases, captions=[scene_captions(s) for s in items])


def test_coco_export_read_round_trip(tmp_path):
    ds = synthetic_dataset()
    image_dir, ann = export_coco(ds, tmp_path / "coco", "val")
    assert ann == tmp_path / "coco" / "annotations" / "captions_val.json"
    doc = json.loads(ann.read_text())
    assert doc["images"][0] == {"id": 0, "file_name": "val_000000.png", "height": 64, "width": 64}
    assert doc["annotations"][6] == {"id": 6, "image_id": 1, "caption": ds.captions[1][1]}
    assert len(doc["annotations"]) == 5 * len(ds.captions)

    from PIL import Image

    with Image.open(image_dir / "val_000003.png") as im:
        assert im.mode == "L" and im.size == (64, 64)

    coco = CocoCaptions(image_dir, ann, vocab=scene_vocabulary())
    assert len(coco) == 12 and coco.ids == list(range(12))
    assert coco.captions == ds.captions
    image, captions = coco[3]
    assert image.dtype == np.float32 and image.shape == (1, 64, 64)
    np.testing.assert_array_equal(image[0], ds.canvases[3] / np.float32(255))
    assert captions == ds.captions[3]
    all_images = coco.load_images()
    batch_images, batch_captions = coco.get_batch(np.array([3, 0]))
    np.testing.assert_array_equal(batch_images, all_images[[3, 0]])
    assert batch_captions.tolist() == [ds.captions[3], ds.captions[0]]
    np.testing.assert_array_equal(all_images[:, 0], ds.canvases / np.float32(255))

    # Float images (N, 1, H, W) in [0, 1] export to the same PNGs.
    floats = SimpleNamespace(images=ds.canvases[:, None] / 255.0, captions=ds.captions)
    d2, a2 = export_coco(floats, tmp_path / "coco2", "val")
    np.testing.assert_array_equal(CocoCaptions(d2, a2).load_images(), all_images)


def test_coco_reader_on_real_coco_style_files(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    image_dir = tmp_path / "train2014"
    image_dir.mkdir()
    rgb = rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8)  # H 48, W 80, colour
    Image.fromarray(rgb).save(image_dir / "COCO_train2014_000000000009.jpg", quality=95)
    Image.fromarray(rgb[:20, :30]).save(image_dir / "COCO_train2014_000000000025.png")
    doc = {
        "info": {},
        "licenses": [],
        "images": [
            {"id": 9, "file_name": "COCO_train2014_000000000009.jpg", "height": 48, "width": 80},
            {"id": 25, "file_name": "COCO_train2014_000000000025.png", "height": 20, "width": 30},
            {"id": 30, "file_name": "no_captions.jpg", "height": 1, "width": 1},
        ],
        "annotations": [
            {"id": 1, "image_id": 9, "caption": "A Man riding a wave on top of a surfboard."},
            {"id": 2, "image_id": 25, "caption": "Two giraffes,  standing"},
            {"id": 3, "image_id": 9, "caption": "a surfer's board\n"},
        ],
    }
    ann = tmp_path / "captions_train2014.json"
    ann.write_text(json.dumps(doc))

    coco = CocoCaptions(image_dir, ann, image_size=32)
    assert coco.ids == [9, 25]  # the image without captions is left out
    image, captions = coco[0]
    assert image.shape == (1, 32, 32) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert captions == ["a man riding a wave on top of a surfboard", "a surfer's board"]
    assert coco.vocab.tokens[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    # Pillow's luma ("L"), then a bilinear resize to a square.
    with Image.open(image_dir / "COCO_train2014_000000000009.jpg") as im:
        expected = np.asarray(im.convert("L").resize((32, 32), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(image[0], expected / np.float32(255))

    colour = CocoCaptions(image_dir, ann, image_size=16, grayscale=False)
    assert colour[1][0].shape == (3, 16, 16)
    assert colour.load_images().shape == (2, 3, 16, 16)
    native = CocoCaptions(image_dir, ann, image_size=None)
    assert native[1][0].shape == (1, 20, 30)


def test_coco_reader_errors_name_the_file(tmp_path):
    ds = synthetic_dataset(3)
    image_dir, ann = export_coco(ds, tmp_path, "test")

    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        CocoCaptions(image_dir, tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match=r"bad\.json"):
        CocoCaptions(image_dir, bad)
    bad.write_text('{"images": []}')
    with pytest.raises(ValueError, match="annotations"):
        CocoCaptions(image_dir, bad)
    bad.write_text('{"images": [{"id": 0}], "annotations": []}')
    with pytest.raises(ValueError, match=r"images\[0\]"):
        CocoCaptions(image_dir, bad)

    (image_dir / "test_000001.png").write_bytes(b"not a png")
    coco = CocoCaptions(image_dir, ann)
    with pytest.raises(ValueError, match=r"test_000001\.png"):
        coco[1]
    os.remove(image_dir / "test_000002.png")
    with pytest.raises(FileNotFoundError, match=r"test_000002\.png"):
        CocoCaptions(image_dir, ann)
    with pytest.raises(FileNotFoundError, match="image folder"):
        CocoCaptions(tmp_path / "nowhere", ann)


# ---- the real benchmark ----------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason="Fashion-MNIST files not installed")
def test_real_split_small():
    from chainrule.datasets.fashion_scenes import FashionScenes

    ds = FashionScenes("val", size=50)
    assert len(ds) == 50 and ds.seed == 2
    assert ds.images.shape == (50, 1, 64, 64) and ds.images.dtype == np.float32
    assert ds.canvases.dtype == np.uint8
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0 and ds.images.max() > 0.5
    image, captions = ds[7]
    assert image.shape == (1, 64, 64) and image.dtype == np.float32
    np.testing.assert_array_equal(image, ds.images[7])
    assert len(captions) == 5 and captions == scene_captions(ds.items[7])
    assert all(50_000 <= j < 60_000 for scene in ds.items for _, _, j in scene)
    assert ds.num_items.tolist() == [len(s) for s in ds.items]
    assert len(ds.vocab) == 46
    images, captions = ds.get_batch(np.array([7, 2]))
    np.testing.assert_array_equal(images, ds.images[[7, 2]])
    assert captions.shape == (2, 5) and captions[1].tolist() == ds.captions[2]
    tokens = ds.encode_captions()
    assert tokens.shape == (50, 5, 24) and tokens.dtype == np.int64
    assert ds.vocab.decode(tokens[7, 3]) == ds.captions[7][3]

    # Same draws as make_scenes on the raw file: the class adds nothing of its own.
    from chainrule.datasets import load_fashion_mnist

    photos, labels = load_fashion_mnist(train=True)
    canvases, items = make_scenes(photos, labels, 50, seed=2, lo=50_000, hi=60_000)
    np.testing.assert_array_equal(ds.canvases, canvases)
    assert ds.items == items


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason="Fashion-MNIST files not installed")
def test_real_test_split_first_scenes_pinned():
    from chainrule.datasets.fashion_scenes import FashionScenes

    ds = FashionScenes("test", size=3)
    assert ds.items == [
        [(0, 1, 8692), (2, 4, 5821), (3, 5, 393)],
        [(2, 6, 7345)],
        [(1, 2, 4201), (3, 6, 4306)],
    ]
    assert [c[0] for c in ds.captions] == [
        "a trouser in the top left and a coat in the bottom left and a sandal in the bottom right",
        "a shirt in the bottom left",
        "a pullover in the top right and a shirt in the bottom right",
    ]
