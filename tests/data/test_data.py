"""Dataset, TensorDataset, Subset and the DataLoader: batch shapes and dtypes, the seeded order,
and resuming from a state dict."""

from __future__ import annotations

import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, collate


class Squares(Dataset):
    """A dataset with no whole arrays: the loader has to go example by example."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return np.full((2,), float(i), np.float32), i * i


def order_of(loader) -> list[int]:
    """The example indices of one epoch, read back from the first column of each batch (which
    holds the example's index in these test datasets)."""
    return [int(v) for xb, *_ in loader for v in xb.numpy()[:, 0]]


def xy(n: int = 10):
    """x: (n, 3) float32 whose row i is [i, i, i]; y: (n,) int64."""
    x = np.repeat(np.arange(n, dtype=np.float32), 3).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 4
    return x, y


# ---- datasets ----


def test_tensor_dataset_rows():
    x, y = xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[7]
    np.testing.assert_array_equal(xi, x[7])
    assert yi == y[7]
    xs, ys = ds.get_batch(np.array([3, 1]))
    np.testing.assert_array_equal(xs, x[[3, 1]])
    np.testing.assert_array_equal(ys, y[[3, 1]])


def test_tensor_dataset_accepts_tensors_without_copy():
    t = cr.tensor(np.ones((4, 2), np.float32))
    ds = TensorDataset(t, cr.tensor([0, 1, 2, 3]))
    assert ds.tensors[0] is t
    np.testing.assert_array_equal(ds[2][0], [1.0, 1.0])
    assert ds[2][1] == 2


def test_tensor_dataset_length_mismatch():
    with pytest.raises(ValueError, match=r"arrays\[1\].shape\[0\] == 5  Actual: 4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()


def test_collate_fields():
    batch = collate([(np.zeros((2, 3), np.float32), 1, 0.5), (np.ones((2, 3), np.float32), 2, 1.5)])
    x, y, w = batch
    assert x.shape == (2, 2, 3) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [1, 2]
    assert w.dtype == np.float32
    d = collate([{"a": 1}, {"a": 3}])
    assert d["a"].tolist() == [1, 3]


def test_subset_keeps_fast_path():
    x, y = xy()
    sub = Subset(TensorDataset(x, y), [9, 8, 2])
    assert len(sub) == 3 and sub[0][1] == y[9]
    xs, _ = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(xs, x[[2, 9]])


# ---- the loader ----


def test_batches_are_tensors_with_dtypes_kept():
    x, y = xy(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    xb, yb = batches[0]
    assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x)


def test_per_example_dataset_is_collated():
    loader = DataLoader(Squares(5), batch_size=2)
    (xb, yb), *_ = loader
    assert xb.shape == (2, 2) and yb.dtype == np.int64
    assert order_of(loader) == [0, 1, 2, 3, 4]


def test_drop_last():
    x, y = xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].shape[0] for b in loader] == [4, 4]
    assert len(DataLoader(TensorDataset(x, y), batch_size=4)) == 3


def test_same_seed_same_batches_and_new_order_each_epoch():
    x, y = xy(50)
    a = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, seed=123)
    b = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, seed=123)
    epochs_a = [order_of(a) for _ in range(3)]
    epochs_b = [order_of(b) for _ in range(3)]
    assert epochs_a == epochs_b
    for e in epochs_a:
        assert sorted(e) == list(range(50))  # every example once per epoch
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    c = DataLoader(TensorDataset(x, y), batch_size=7, shuffle=True, seed=124)
    assert order_of(c) != epochs_a[0]


def test_unshuffled_order_is_dataset_order():
    x, y = xy(9)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    assert order_of(loader) == order_of(loader) == list(range(9))


def test_manual_seed_makes_an_unseeded_loader_repeatable():
    x, y = xy(20)
    cr.manual_seed(5)
    first = order_of(DataLoader(TensorDataset(x, y), batch_size=3, shuffle=True))
    cr.manual_seed(5)
    assert order_of(DataLoader(TensorDataset(x, y), batch_size=3, shuffle=True)) == first


@pytest.mark.parametrize("stop_after", [0, 1, 4, 5])
def test_resume_mid_epoch_continues_exact_order(stop_after):
    """Train 1.x epochs, checkpoint, restore into a fresh loader: the batches that follow are
    the ones an uninterrupted loader gives."""
    x, y = xy(23)
    n_batches = 5  # ceil(23 / 5)

    def fresh():
        return DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=7)

    reference = fresh()
    expected = [order_of(reference) for _ in range(4)]
    flat = [i for e in expected for i in e]

    run = fresh()
    seen = order_of(run)  # epoch 0 in full
    it = iter(run)
    for _ in range(stop_after):
        seen += [int(v) for v in next(it)[0].numpy()[:, 0]]
    state = run.state_dict()
    assert state["epoch"] == 1 and state["batches_done"] == stop_after
    # The checkpoint goes through arrays (as it would through a safetensors file).
    state = {k: np.asarray(v, dtype=np.int64) for k, v in state.items()}

    resumed = fresh()
    resumed.load_state_dict(state)
    rest = order_of(resumed)  # the remainder of epoch 1
    # A state taken after the last batch of an epoch resumes with the next epoch, in full.
    assert len(rest) == (23 - 5 * stop_after if stop_after < n_batches else 23)
    seen += rest + order_of(resumed)
    assert seen == flat[: len(seen)]


def test_resume_after_last_batch_starts_next_epoch():
    x, y = xy(10)
    a = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=1)
    it = iter(a)
    next(it)
    next(it)  # the last batch handed out, the epoch not yet closed
    b = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=1)
    b.load_state_dict(a.state_dict())
    assert order_of(b) == list(a.order(1))


def test_abandoned_epoch_counts_as_done():
    x, y = xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=2, shuffle=True, seed=3)
    for _ in loader:
        break
    assert order_of(loader) == list(loader.order(1))
    assert loader.epoch == 2


def test_load_state_dict_rejects_other_data():
    x, y = xy(10)
    state = DataLoader(TensorDataset(x, y), batch_size=2, seed=0).state_dict()
    with pytest.raises(ValueError, match="10 examples"):
        DataLoader(TensorDataset(x[:8], y[:8]), batch_size=2).load_state_dict(state)
    state["batches_done"] = 1
    with pytest.raises(ValueError, match="batch_size 2"):
        DataLoader(TensorDataset(x, y), batch_size=3).load_state_dict(state)


def test_bad_arguments():
    ds = TensorDataset(*xy())
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(ds, batch_size=2.0)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, seed=-1)


def test_epoch_of_60000_images_is_fast():
    """An epoch of 60,000 28x28 images at batch size 10 takes the whole-array path: 6,000 batches
    in well under a second of Python, not one tuple per image."""
    images = np.zeros((60_000, 1, 28, 28), np.float32)
    labels = np.zeros(60_000, np.int64)
    loader = DataLoader(TensorDataset(images, labels), batch_size=10, shuffle=True, seed=0)
    t = time.perf_counter()
    n = sum(1 for _ in loader)
    elapsed = time.perf_counter() - t
    assert n == 6000
    assert elapsed < 2.0, f"an epoch took {elapsed:.2f}s"
