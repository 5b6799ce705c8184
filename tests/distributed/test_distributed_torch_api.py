"""PyTorch's ``torch.distributed`` process-group API in chainrule.distributed.

In one process, against torch itself: torch's gloo group of one (``world_size=1`` on loopback)
and torch before ``init_process_group`` are the oracle for the results and for the kind of every
error. Under ``mpirun -n 2`` (tests/distributed/pg_worker.py): the collectives against NumPy's
reduction of the two ranks' inputs, and the checks that the program's world is MPI's.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_distributed import LAUNCH_VARS, MPI_MISSING, run_mpi

import chainrule as cr
import chainrule.distributed as dist

torch = pytest.importorskip("torch")
tdist = pytest.importorskip("torch.distributed")

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("pg_worker", HERE / "pg_worker.py")
pg_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pg_worker)

OPS = ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def clean(monkeypatch):
    """No launcher, no torchrun variables; chainrule's and torch's groups destroyed after."""
    for var in (*LAUNCH_VARS, "RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    yield
    for lib in (dist, tdist):
        if lib.is_initialized():
            lib.destroy_process_group()


@pytest.fixture
def loopback(clean, monkeypatch):
    """torch's env:// rendezvous on loopback only, at a free port."""
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))


@pytest.fixture
def groups(loopback):
    """torch's gloo group of one process and chainrule's."""
    tdist.init_process_group("gloo", world_size=1, rank=0)
    dist.init_process_group("gloo", world_size=1, rank=0)


def _kind(lib, fn) -> type[BaseException] | None:
    try:
        fn(lib)
    except Exception as e:
        return type(e)
    return None


def _same_error(fn, kind: type[BaseException], words: str) -> None:
    """``fn(lib)`` raises ``kind`` under torch and under chainrule, chainrule's naming ``words``."""
    assert _kind(tdist, fn) is kind
    with pytest.raises(kind, match=words):
        fn(dist)


def _ones(lib):
    return cr.ones(2) if lib is dist else torch.ones(2)


# ------------------------------------------------------------------ before init_process_group


def test_before_init_as_torch(clean):
    assert dist.is_available() and tdist.is_available()
    assert dist.is_initialized() is tdist.is_initialized() is False
    assert dist.group.WORLD is None and tdist.group.WORLD is None
    for fn in (
        lambda d: d.get_rank(),
        lambda d: d.get_world_size(),
        lambda d: d.get_backend(),
        lambda d: d.all_reduce(_ones(d)),
        lambda d: d.broadcast(_ones(d), 0),
    ):
        _same_error(fn, ValueError, "Default process group has not been initialized")
    _same_error(lambda d: d.destroy_process_group(), AssertionError, "Process group cannot be None")
    # chainrule's own names need no init_process_group, and do not create the group.
    assert (dist.rank(), dist.world_size()) == (0, 1)
    dist.barrier()
    assert not dist.is_initialized()


def test_init_destroy_and_init_again(clean):
    dist.init_process_group()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    assert dist.group.WORLD.rank() == 0 and dist.group.WORLD.size() == 1
    with pytest.raises(ValueError, match="initialize the default process group twice"):
        dist.init_process_group("gloo")
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group(backend="GLOO", init_method="env://", timeout=datetime.timedelta(60))
    assert dist.get_backend() == "gloo"


def test_backends_as_torch_on_a_cpu(loopback):
    _same_error(lambda d: d.init_process_group("nccl", world_size=1, rank=0), RuntimeError, "GPU")
    assert not dist.is_initialized()
    _same_error(lambda d: d.init_process_group("foo", world_size=1, rank=0), AssertionError, "foo")
    assert dist.is_nccl_available() is tdist.is_nccl_available() is False
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("gloo", timeout=5)


def test_a_world_of_several_needs_mpirun(clean, monkeypatch):
    with pytest.raises(RuntimeError, match=r"world_size=2 asks for 2 .*mpirun -n 2"):
        dist.init_process_group("gloo", world_size=2, rank=0)
    monkeypatch.setenv("WORLD_SIZE", "4")  # as torchrun leaves it
    with pytest.raises(RuntimeError, match="WORLD_SIZE=4 in the environment asks for 4"):
        dist.init_process_group("gloo")
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(ValueError, match="rank=1, but a process not started by mpirun is rank 0"):
        dist.init_process_group("gloo", rank=1)
    assert not dist.is_initialized()
    monkeypatch.setenv("RANK", "0")
    dist.init_process_group("gloo")
    assert dist.get_world_size() == 1


# ------------------------------------------------------------------ a group of one, as torch's


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "bool"])
@pytest.mark.parametrize("op", OPS)
def test_all_reduce_in_a_group_of_one_as_torch(groups, op, dtype):
    value = np.array([[1.5, -2.0, 0.0], [3.0, 0.25, 7.0]]).astype(dtype)
    ours, theirs = cr.tensor(value), torch.tensor(value)
    a = _kind(dist, lambda d: d.all_reduce(ours, op=getattr(d.ReduceOp, op)))
    b = _kind(tdist, lambda d: d.all_reduce(theirs, op=getattr(d.ReduceOp, op)))
    assert a is b, (a, b)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == value.dtype


def test_collectives_in_a_group_of_one_as_torch(groups):
    for lib, T in ((dist, cr), (tdist, torch)):
        t = T.tensor([1.0, 2.0, 3.0], requires_grad=True)  # written outside autograd, as torch
        w = lib.all_reduce(t, op=lib.ReduceOp.SUM, async_op=True)
        assert w.wait() is True and w.is_completed()
        assert lib.all_reduce(t) is None and lib.broadcast(t, src=0) is None
        assert t.tolist() == [1.0, 2.0, 3.0] and t.grad is None
        out = [T.zeros(3)]
        lib.all_gather(out, T.tensor([4.0, 5.0, 6.0]))
        assert out[0].tolist() == [4.0, 5.0, 6.0]
        into = T.zeros(3)
        lib.all_gather_into_tensor(into, T.tensor([7.0, 8.0, 9.0]))
        assert into.tolist() == [7.0, 8.0, 9.0]
        r = T.zeros(2)
        lib.reduce_scatter(r, [T.tensor([1.0, -1.0])])
        assert r.tolist() == [1.0, -1.0]
        objects = [None]
        lib.all_gather_object(objects, {"a": 1})
        assert objects == [{"a": 1}]
        assert lib.barrier() is None
        assert lib.get_rank(group=lib.group.WORLD) == 0


def test_collective_errors_as_torch(groups):
    def t(d, *values, dtype=None):
        return (cr if d is dist else torch).tensor(list(values) or [1.0, 2.0], dtype=dtype)

    cases = [
        (lambda d: d.broadcast(t(d), 1), RuntimeError, "invalid root rank: 1"),
        (lambda d: d.broadcast(t(d), -1), RuntimeError, "invalid root rank: -1"),
        (lambda d: d.broadcast(t(d)), ValueError, "Must specify global_rank or group_rank"),
        (lambda d: d.all_gather([t(d), t(d)], t(d)), RuntimeError, "expected length 1, the"),
        (lambda d: d.all_gather([t(d, 1.0)], t(d)), RuntimeError, r"shape \(1,\), expected \(2,"),
        (lambda d: d.all_gather((t(d),), t(d)), TypeError, "List\\[Tensor\\] but got tuple"),
        (lambda d: d.all_reduce([t(d)]), TypeError, "`tensor` of type Tensor but got list"),
        (lambda d: d.all_reduce(t(d), op="sum"), TypeError, "op must be a dist.ReduceOp"),
        (lambda d: d.all_reduce(t(d), op=d.ReduceOp.BAND), RuntimeError, "non-integral dtype"),
        (lambda d: d.all_reduce(t(d, 1, 2), op=d.ReduceOp.AVG), RuntimeError, "ReduceOp.AVG of"),
        (lambda d: d.reduce_scatter(t(d), [t(d), t(d)]), RuntimeError, "must be world size"),
        (lambda d: d.get_rank(group=5), ValueError, "Group 5 is not registered"),
    ]
    for fn, kind, words in cases:
        _same_error(fn, kind, words)
    with pytest.raises(ValueError, match="different dtypes"):
        dist.all_gather([cr.zeros(2, dtype=cr.int64)], cr.ones(2))
    assert (
        _kind(tdist, lambda d: d.all_gather([torch.zeros(2).long()], torch.ones(2))) is ValueError
    )


def test_torchrun_variables_only_under_a_launcher(clean, monkeypatch):
    assert dist.export_torchrun_variables() == {}
    assert "RANK" not in os.environ
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")  # set by the user: kept
    for var in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.setenv(var, "")  # so that monkeypatch restores them after the test
        monkeypatch.delenv(var)
    assert dist.export_torchrun_variables() == {"RANK": "2", "WORLD_SIZE": "4"}
    assert os.environ["LOCAL_RANK"] == "1"


def test_a_single_process_group_never_imports_mpi4py():
    code = (
        "import sys, chainrule as cr, chainrule.distributed as d\n"
        "d.init_process_group('gloo'); t = cr.ones(2); d.all_reduce(t); d.barrier()\n"
        "d.destroy_process_group(); print(t.tolist(), 'mpi4py' in sys.modules)"
    )
    torchrun = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    env = {k: v for k, v in os.environ.items() if k not in (*LAUNCH_VARS, *torchrun)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[1.0,", "1.0]", "False"]


# ------------------------------------------------------------------ mpirun -n 2


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    if MPI_MISSING:
        pytest.skip(MPI_MISSING)
    out = tmp_path_factory.mktemp("pg") / "records.json"
    r = run_mpi(sys.executable, str(HERE / "pg_worker.py"), str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(out.read_text())


def _expected(name: str, op: str) -> list:
    values = np.stack([pg_worker.inputs(r)[name] for r in range(2)])
    reduce = {
        "SUM": np.sum,
        "PRODUCT": np.prod,
        "MIN": np.min,
        "MAX": np.max,
        "AVG": np.mean,
        "BAND": np.bitwise_and.reduce,
        "BOR": np.bitwise_or.reduce,
        "BXOR": np.bitwise_xor.reduce,
    }[op]
    if name == "bool":
        return reduce(values.astype(np.int64), axis=0).astype(bool).tolist()
    wide = values.astype(np.float64) if values.dtype.kind == "f" else values
    return reduce(wide, axis=0).astype(values.dtype).tolist()


def test_two_ranks_form_the_group_from_mpi(two_ranks):
    for rank, rec in enumerate(two_ranks):
        assert rec["before"] is False and rec["after destroy"] is False
        assert rec["torchrun"] == {"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)}
        assert (rec["rank"], rec["size"], rec["mpi rank"]) == (rank, 2, rank)
        assert rec["backend"] == "gloo" and rec["again"] == [True, rank]
        assert rec["twice"][0] == "ValueError"
        assert rec["bad src"][0] == "RuntimeError" and "invalid root rank: 2" in rec["bad src"][1]
        assert rec["short list"][0] == "RuntimeError"
        assert rec["wrong size"][0] == "ValueError"
        assert "world_size=3, but mpirun started 2 processes" in rec["wrong size"][1]
        assert f"rank={1 - rank}, but MPI made this process rank {rank}" in rec["wrong rank"][1]


def test_two_ranks_all_reduce_every_op_and_dtype(two_ranks):
    skip = ("all_reduce view", "all_reduce bfloat16 AVG")
    keys = [k for k in two_ranks[0] if k.startswith("all_reduce ") and k not in skip]
    assert len(keys) == 3 * 5 + 2 * 7
    for key in keys:
        _, name, op = key.split()
        for rec in two_ranks:
            assert rec[key] == _expected(name, op), key


def test_two_ranks_broadcast_gather_scatter(two_ranks):
    x = [pg_worker.inputs(r) for r in range(2)]
    for rank, rec in enumerate(two_ranks):
        view = x[rank]["float64"].copy()
        view[:, ::2] = x[0]["float64"][:, ::2] + x[1]["float64"][:, ::2]
        assert rec["all_reduce view"] == view.tolist()  # written through to the base
        dtype, mean = rec["all_reduce bfloat16 AVG"]
        want = (x[0]["float32"] + x[1]["float32"]) / 2  # exact in bfloat16's 8 bits here
        assert dtype == "bfloat16" and mean == want.tolist()
        assert rec["broadcast src=1"] == [x[1]["float32"].tolist(), True]
        assert rec["all_gather"] == [x[r]["float32"].tolist() for r in range(2)]
        assert (
            rec["all_gather_into_tensor"]
            == np.concatenate([x[0]["float32"], x[1]["float32"]]).tolist()
        )
        # Rank r sends input_list[j] = inputs(j) * (r + 1); rank j receives the sum over r.
        assert rec["reduce_scatter"] == (x[rank]["int64"] * 3).tolist()
        assert rec["all_gather_object"] == [{"rank": 0}, {"rank": 1}]
        assert rec["broadcast_object_list"] == ["from 1", 1]


def test_two_ranks_ddp_after_init_process_group(two_ranks):
    for rec in two_ranks:
        assert rec["same weights"]
        np.testing.assert_allclose(rec["ddp grad"], rec["mean of local grads"], rtol=1e-6)
    assert two_ranks[0]["ddp grad"] == two_ranks[1]["ddp grad"]
