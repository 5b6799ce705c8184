"""chainrule.utils.data against torch.utils.data: the same batches (values, dtypes, structure)
for the same datasets, collate rules, samplers given in order, splits and concatenations."""

import collections

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils import data as crd

torch = pytest.importorskip("torch")
tud = torch.utils.data


def _same(ours, theirs):
    """Recursively equal: tensors by value and dtype, containers by type and contents."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), type(ours)
        assert ours.dtype == theirs.numpy().dtype, (ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert ours == theirs


Point = collections.namedtuple("Point", "x y")


class Items:
    """A map-style dataset of mixed items, written once for both libraries."""

    def __init__(self, lib, kind):
        self.lib, self.kind = lib, kind

    def __len__(self):
        return 7

    def __getitem__(self, i):
        lib = self.lib
        if self.kind == "tuple":
            return lib.arange(3, dtype=lib.float32) * i, i
        if self.kind == "dict":
            return {"x": np.full(2, i, np.float32), "name": f"n{i}", "w": 0.5 * i, "ok": i % 2 == 0}
        if self.kind == "namedtuple":
            return Point(lib.tensor([float(i)]), i)
        return [i, float(i)]


def _wrap(base, items):
    cls = type("DS", (base,), {"__len__": items.__len__, "__getitem__": items.__getitem__})
    ds = cls()
    ds.__dict__.update(items.__dict__)
    return ds


@pytest.mark.parametrize("kind", ["tuple", "dict", "namedtuple", "list"])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_match_torch(kind, drop_last):
    ours = crd.DataLoader(_wrap(crd.Dataset, Items(cr, kind)), batch_size=3, drop_last=drop_last)
    theirs = tud.DataLoader(
        _wrap(tud.Dataset, Items(torch, kind)), batch_size=3, drop_last=drop_last
    )
    assert len(ours) == len(theirs)
    got, want = list(ours), list(theirs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        _same(a, b)


def test_tensor_dataset_batch_sampler_and_collate_fn_match_torch():
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    ours_ds = crd.TensorDataset(cr.tensor(x), cr.tensor(y))
    theirs_ds = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    _same(ours_ds[3], theirs_ds[3])
    batches = [[0, 5], [9, 1, 2], [4]]
    _same(
        list(crd.DataLoader(ours_ds, batch_sampler=batches)),
        list(tud.DataLoader(theirs_ds, batch_sampler=batches)),
    )

    def collate(items):
        return sum(int(i[1]) for i in items)

    assert list(crd.DataLoader(ours_ds, batch_size=4, collate_fn=collate)) == list(
        tud.DataLoader(theirs_ds, batch_size=4, collate_fn=collate)
    )
    _same(
        list(crd.DataLoader(ours_ds, batch_size=None))[2],
        list(tud.DataLoader(theirs_ds, batch_size=None))[2],
    )


def test_concat_subset_and_iterable_match_torch():
    a, b = list(range(5)), list(range(10, 13))
    ours = crd.ConcatDataset([crd.Subset(a, [4, 0, 2]), b])
    theirs = tud.ConcatDataset([tud.Subset(a, [4, 0, 2]), b])
    assert len(ours) == len(theirs) == 6
    assert [ours[i] for i in range(-6, 6)] == [theirs[i] for i in range(-6, 6)]

    class Counter:
        def __iter__(self):
            return iter(range(7))

    ours_it = type("It", (crd.IterableDataset,), {"__iter__": Counter.__iter__})()
    theirs_it = type("It", (tud.IterableDataset,), {"__iter__": Counter.__iter__})()
    _same(
        list(crd.DataLoader(ours_it, batch_size=3)), list(tud.DataLoader(theirs_it, batch_size=3))
    )


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.34, 0.33, 0.33], [1.0]])
def test_random_split_sizes_match_torch(lengths):
    ours = crd.random_split(list(range(10)), lengths, generator=cr.Generator().manual_seed(0))
    theirs = tud.random_split(list(range(10)), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(10))  # a partition


def test_shuffling_is_a_seeded_permutation_and_workers_change_nothing():
    ds = list(range(10))
    first = [int(v) for b in crd.DataLoader(ds, batch_size=3, shuffle=True,
                                            generator=cr.Generator().manual_seed(1)) for v in b]  # fmt: skip
    again = [int(v) for b in crd.DataLoader(ds, batch_size=3, shuffle=True,
                                            generator=cr.Generator().manual_seed(1)) for v in b]  # fmt: skip
    assert first == again and sorted(first) == ds and first != ds
    seen = []
    loader = crd.DataLoader(ds, batch_size=4, num_workers=2, worker_init_fn=seen.append,
                            pin_memory=True, persistent_workers=True)  # fmt: skip
    assert [b.tolist() for b in loader] == [b.tolist() for b in crd.DataLoader(ds, batch_size=4)]
    assert seen == [0, 1] and crd.get_worker_info() is None


def test_bad_arguments_are_refused_as_pytorch_refuses_them():
    with pytest.raises(ValueError, match="mutually exclusive"):
        crd.DataLoader([1, 2], sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        crd.DataLoader([1, 2], batch_size=0)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        crd.DataLoader([1, 2], num_workers=-1)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        crd.random_split([1, 2, 3], [1, 1])
