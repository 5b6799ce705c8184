"""chainrule.utils.data against torch.utils.data: the same batches (values, dtypes, structure)
for the same datasets, collate rules, samplers given in order, splits and concatenations."""

import collections
import warnings

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


def _both_raise(call_ours, call_theirs, kind, ours_match):
    """PyTorch raises ``kind`` on its side, and chainrule the same kind with ``ours_match``."""
    with pytest.raises(kind):
        call_theirs()
    with pytest.raises(kind, match=ours_match):
        call_ours()


@pytest.mark.parametrize("num_samples", [0, -3, 2.0])
def test_random_sampler_refuses_a_non_positive_num_samples_as_torch(num_samples):
    _both_raise(
        lambda: crd.RandomSampler(list(range(5)), num_samples=num_samples),
        lambda: tud.RandomSampler(list(range(5)), num_samples=num_samples),
        ValueError,
        f"num_samples should be a positive integer value, but got num_samples={num_samples}",
    )
    _both_raise(
        lambda: crd.RandomSampler([], replacement=False),
        lambda: tud.RandomSampler([], replacement=False),
        ValueError,
        "num_samples=0",
    )
    _both_raise(
        lambda: crd.RandomSampler([1], replacement=1),
        lambda: tud.RandomSampler([1], replacement=1),
        TypeError,
        "replacement should be a boolean",
    )


def test_random_split_refuses_fractions_outside_0_1_as_torch():
    ds = list(range(10))
    _both_raise(
        lambda: crd.random_split(ds, [0.5, 0.7, -0.2]),
        lambda: tud.random_split(ds, [0.5, 0.7, -0.2]),
        ValueError,
        "fraction at index 2 is not between 0 and 1",
    )
    _both_raise(
        lambda: crd.random_split(ds, [0.5, 0.6]),
        lambda: tud.random_split(ds, [0.5, 0.6]),
        ValueError,
        "Sum of input lengths",
    )
    for lib in (tud, crd):  # both warn about each empty split
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.random_split(list(range(3)), [0.9, 0.05, 0.05])
        assert [str(w.message)[:27] for w in caught] == [
            "Length of split at index 1 ",
            "Length of split at index 2 ",
        ]


def test_drop_last_without_batching_is_refused_as_torch():
    _both_raise(
        lambda: crd.DataLoader(list(range(4)), batch_size=None, drop_last=True),
        lambda: tud.DataLoader(list(range(4)), batch_size=None, drop_last=True),
        ValueError,
        "batch_size=None option disables auto-batching and is mutually exclusive with drop_last",
    )


@pytest.mark.parametrize("make", ["loader", "shuffle", "random", "subset", "weighted", "split"])
def test_a_generator_that_is_not_one_is_a_type_error_as_torch(make):
    ds = list(range(6))

    def build(lib):
        data = lib.utils.data
        return {
            "loader": lambda: list(data.DataLoader(ds, generator=5)),
            "shuffle": lambda: list(data.DataLoader(ds, shuffle=True, generator=5)),
            "random": lambda: list(data.RandomSampler(ds, generator=5)),
            "subset": lambda: list(data.SubsetRandomSampler([1, 2], generator=5)),
            "weighted": lambda: list(data.WeightedRandomSampler([1.0, 2.0], 3, generator=5)),
            "split": lambda: data.random_split(ds, [3, 3], generator=5),
        }[make]

    _both_raise(build(cr), build(torch), TypeError, "argument 'generator' must be a chainrule")
    crd.DataLoader(ds, generator=5)  # as in PyTorch, refused when the draw is made, not here


def test_sampling_with_replacement_is_drawn_lazily_32_at_a_time():
    class Huge:
        def __len__(self):
            return 7

    ours = crd.RandomSampler(Huge(), replacement=True, num_samples=10**10)
    theirs = tud.RandomSampler(Huge(), replacement=True, num_samples=10**10)
    assert len(ours) == len(theirs) == 10**10
    it = iter(ours)
    first = [next(it) for _ in range(100)]  # 10**10 int64s up front would be 74 GiB
    assert all(0 <= i < 7 for i in first) and len(set(first)) > 1
    again = crd.RandomSampler(Huge(), True, 70, generator=cr.Generator().manual_seed(3))
    draws = list(again)
    assert len(draws) == 70 and draws == list(
        crd.RandomSampler(Huge(), True, 70, generator=cr.Generator().manual_seed(3))
    )


@pytest.mark.parametrize("num_samples", [3, 7, 16])
def test_sampling_without_replacement_covers_whole_permutations(num_samples):
    ours = list(crd.RandomSampler(list(range(7)), num_samples=num_samples))
    theirs = list(tud.RandomSampler(list(range(7)), num_samples=num_samples))
    assert len(ours) == len(theirs) == num_samples
    for k in range(num_samples // 7):
        assert sorted(ours[7 * k : 7 * k + 7]) == list(range(7))


def test_pytorchs_module_paths_import():
    from chainrule.utils.data._utils.collate import default_collate as c2
    from chainrule.utils.data.dataloader import DataLoader, default_collate
    from chainrule.utils.data.dataset import Dataset, TensorDataset, random_split
    from chainrule.utils.data.sampler import BatchSampler, SubsetRandomSampler

    assert default_collate is c2 is crd.default_collate and DataLoader is crd.DataLoader
    assert Dataset is crd.Dataset and TensorDataset is crd.TensorDataset
    assert random_split is crd.random_split and BatchSampler is crd.BatchSampler
    assert SubsetRandomSampler is crd.SubsetRandomSampler
    assert cr.utils.data.DataLoader is crd.DataLoader
    assert list(tud.dataloader.__dict__) and list(tud.sampler.__dict__)  # PyTorch's too


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_at_pytorchs_path_serves_torchs_shards(drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    from chainrule.utils.data.distributed import DistributedSampler

    assert DistributedSampler is cr.distributed.DistributedSampler
    ds = list(range(11))
    for rank in range(3):
        ours = DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(ds, num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        loader = crd.DataLoader(ds, batch_size=2, sampler=ours)
        assert [b.tolist() for b in loader] == [
            b.tolist() for b in tud.DataLoader(ds, batch_size=2, sampler=theirs)
        ]
    alone = DistributedSampler(ds)  # one process: the world of one
    assert (alone.num_replicas, alone.rank, len(alone)) == (1, 0, 11)
    alone.set_epoch(1)
    first = list(alone)
    alone.set_epoch(2)
    assert sorted(first) == ds and list(alone) != first
