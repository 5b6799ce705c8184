"""chainrule.distributed: data-parallel training over MPI.

The first half needs no MPI (one process: sharding arithmetic, bucket layout, the identity of
every collective in a world of one, launch detection). The second half runs real jobs with
``mpirun --oversubscribe -n 2`` (tests/distributed/worker.py is what each rank runs): two ranks
with batch B equal one process with batch 2B, the shards cover the data, a crash or a
``kill -9`` of one rank ends the job, mismatched models are refused, and ``chainrule train``
runs data-parallel with only rank 0 writing. Those skip, saying why, where Open MPI's mpirun
or mpi4py is missing (``bash setup.sh`` installs both).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.distributed as dist
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import comm as dist_comm
from chainrule.distributed.reducer import _MIB
from chainrule.models.mlp import MLP

HERE = Path(__file__).parent
WORKER = HERE / "worker.py"
_spec = importlib.util.spec_from_file_location("dist_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


def _mpi_missing() -> str | None:
    """Why the MPI tests cannot run here, or None."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        return "mpirun not found (Open MPI: apt-get install openmpi-bin; bash setup.sh does it)"
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed in this environment (bash setup.sh installs it)"
    version = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" not in version and "OpenRTE" not in version:
        return f"these tests drive Open MPI's mpirun; {mpirun} is another ({version[:40]!r})"
    return None


MPI_MISSING = _mpi_missing()
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=MPI_MISSING or "")


def mpi_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    # Two ranks on two (shared) cores: BLAS threads of their own would only spin.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if os.geteuid() == 0:  # containers and CI run as root; Open MPI refuses it unless told
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def mpirun(*args: str, n: int = 2) -> list[str]:
    return [shutil.which("mpirun") or "mpirun", "--oversubscribe", "-n", str(n), *args]


def run_mpi(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        mpirun(*args), env=mpi_env(), capture_output=True, text=True, timeout=timeout, **kw
    )


# ------------------------------------------------------------------ one process, no MPI needed


def test_a_single_process_never_imports_mpi4py():
    code = (
        "import sys, chainrule.distributed as d, chainrule.training.trainer\n"
        "print(d.init(), d.rank(), d.world_size(), d.is_main(), 'mpi4py' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(0,", "1)", "0", "1", "True", "False"]


def test_launched_size_reads_each_launchers_variable(monkeypatch):
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    assert dist.launched_size() == 1
    for var in LAUNCH_VARS:
        monkeypatch.setenv(var, "4")
        assert dist.launched_size() == 4
        monkeypatch.delenv(var)


def test_launched_without_mpi4py_is_a_clear_error():
    code = "import sys; sys.modules['mpi4py'] = None\nimport chainrule.distributed as d; d.init()"
    env = {**mpi_env(), "OMPI_COMM_WORLD_SIZE": "3"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "one of 3 MPI processes but mpi4py cannot be imported" in r.stderr


@needs_mpi
def test_a_launcher_of_another_mpi_is_refused():
    # PMI_SIZE is MPICH's; Open MPI's MPI then starts a world of one ("singleton"): every
    # process would train alone and all would write the same files.
    code = "import chainrule.distributed as d; d.init()"
    env = {**mpi_env(), "PMI_SIZE": "2"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode != 0
    assert "launcher started 2 processes but MPI reports a world of 1" in r.stderr


@pytest.mark.parametrize("n", [1, 2, 7, 10, 11, 37])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shards_cover_the_data_once_per_epoch(n, world, drop_last):
    for epoch in (0, 1):
        shards = [
            dist.DistributedSampler(n, world, r, seed=3, drop_last=drop_last).indices(epoch)
            for r in range(world)
        ]
        lengths = {len(s) for s in shards}
        assert len(lengths) == 1, "every rank must serve the same number of examples"
        served = np.concatenate(shards)
        counts = np.bincount(served, minlength=n)
        if drop_last:
            # Disjoint shards; the fewer than R examples left over this epoch are skipped.
            assert counts.max() <= 1 and n - counts.sum() == n % world
        else:
            # Every example at least once; the padding repeats the first fewer-than-R ones.
            assert counts.min() >= 1 and counts.sum() == world * -(-n // world)
            if n >= world:
                assert counts.max() <= 2
    # A new permutation each epoch, the same one on every rank (disjointness above relies on it).
    if n > 2:
        s = dist.DistributedSampler(n, 1, 0, seed=3)
        assert not np.array_equal(s.indices(0), s.indices(1))


def test_sampler_pads_and_drops_exactly_as_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for n, world, drop_last in [(11, 4, False), (11, 4, True), (10, 3, False), (3, 4, False)]:
        for r in range(world):
            ours = dist.DistributedSampler(n, world, r, shuffle=False, drop_last=drop_last)
            theirs = TorchSampler(range(n), world, r, shuffle=False, drop_last=drop_last)
            assert ours.indices(0).tolist() == list(theirs), (n, world, r, drop_last)
            assert len(ours) == len(theirs)
    del torch


def test_ranks_with_batch_b_see_the_batches_of_one_process_with_batch_rb():
    n, world, b = 96, 3, 8
    ds = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))
    single = DataLoader(ds, batch_size=world * b, shuffle=True, seed=7)
    ranks = [
        DataLoader(ds, batch_size=b, sampler=dist.DistributedSampler(ds, world, r, seed=7))
        for r in range(world)
    ]
    for _ in range(2):  # two epochs
        per_rank = [list(loader) for loader in ranks]
        for step, (_, y) in enumerate(single):
            union = np.concatenate([per_rank[r][step][1].numpy() for r in range(world)])
            assert sorted(union.tolist()) == sorted(y.numpy().tolist())


def test_loader_with_a_sampler_resumes_mid_epoch_and_refuses_another_world():
    ds = TensorDataset(np.zeros((21, 1), np.float32), np.arange(21))
    make = lambda world: DataLoader(  # noqa: E731
        ds, batch_size=2, sampler=dist.DistributedSampler(ds, world, 0, seed=1)
    )
    a = make(2)
    assert len(a) == 6  # ceil(ceil(21 / 2) / 2)
    it = iter(a)
    [next(it) for _ in range(2)]
    state = a.state_dict()
    assert state["sampler"]["num_replicas"] == 2
    rest = [y.numpy().tolist() for _, y in it]
    b = make(2)
    b.load_state_dict(json.loads(json.dumps(state)))  # as a checkpoint hands it back
    assert [y.numpy().tolist() for _, y in b] == rest
    with pytest.raises(ValueError, match="mid-epoch with sampler"):
        make(3).load_state_dict(state)
    with pytest.raises(ValueError, match="sampler and shuffle=True"):
        DataLoader(ds, batch_size=2, shuffle=True, sampler=dist.DistributedSampler(ds, 2, 0))


def test_loader_accepts_a_pytorch_style_sampler():
    class Reverse:  # __iter__ and __len__ only, as torch.utils.data samplers
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

    ds = TensorDataset(np.zeros((5, 1), np.float32), np.arange(5))
    batches = [y.numpy().tolist() for _, y in DataLoader(ds, batch_size=2, sampler=Reverse(5))]
    assert batches == [[4, 3], [2, 1], [0]]


def test_sampler_validates_its_arguments():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 1\], got 2"):
        dist.DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        dist.DistributedSampler(10, 0, 0)
    with pytest.raises(TypeError, match="seed must be an int"):
        dist.DistributedSampler(10, 2, 0, seed=1.5)


def test_buckets_hold_one_dtype_and_respect_the_cap():
    params = [
        cr.nn.Parameter(cr.zeros(100, 100)),  # 40,000 bytes in float32
        cr.nn.Parameter(cr.zeros(10)),
        cr.nn.Parameter(cr.tensor(np.zeros(50, np.float64))),
        cr.nn.Parameter(cr.zeros(20, 20)),
        cr.nn.Parameter(cr.tensor(np.zeros(8, np.float16))),
    ]
    cap_mb = 2000 / _MIB
    buckets = dist.GradientReducer(params, bucket_cap_mb=cap_mb).buckets
    assert sorted(i for b in buckets for i in b["params"]) == [0, 1, 2, 3, 4]
    for b in buckets:
        # float16 is summed in float32 (MPI has no half type), so it joins a float32 bucket.
        reduced = {str(params[i].data.dtype).replace("float16", "float32") for i in b["params"]}
        assert reduced == {b["dtype"]}
        if len(b["params"]) > 1:  # only a parameter larger than the cap fills a bucket alone
            assert b["nbytes"] <= 2000 + 8 * len(b["params"])  # + one flag per parameter
    assert [b["params"] for b in buckets if 0 in b["params"]] == [[0]]
    one = dist.GradientReducer(params, reduce_dtype="float32").buckets
    assert len(one) == 1 and one[0]["dtype"] == "float32"
    # By default: one bucket per dtype (float32 with the float16 parameter, and float64).
    assert sorted(b["dtype"] for b in dist.GradientReducer(params).buckets) == [
        "float32",
        "float64",
    ]
    shared = params[0]
    assert len(dist.GradientReducer([shared, shared]).params) == 1
    with pytest.raises(TypeError, match="reduce_dtype must be a float dtype"):
        dist.GradientReducer(params, reduce_dtype="int32")
    with pytest.raises(ValueError, match="bucket_cap_mb must be > 0"):
        dist.GradientReducer(params, bucket_cap_mb=0)


def test_in_one_process_the_distributed_optimizer_is_the_optimizer():
    def run(wrap):
        cr.manual_seed(0)
        model = MLP(worker.SIZES)
        opt = cr.optim.Adam(list(model.parameters()), lr=0.01)
        if wrap:
            opt = dist.DistributedOptimizer(opt)
        sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        loader = DataLoader(worker.make_data(), batch_size=8, shuffle=True, seed=1)
        for _ in range(2):
            worker.run_steps(model, opt, loader, steps=3)
            sched.step()
        return worker.params_of(model), opt.state_dict()

    (pa, sa), (pb, sb) = run(False), run(True)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    assert sa["param_groups"] == sb["param_groups"]
    np.testing.assert_array_equal(sa["state"][0]["exp_avg"], sb["state"][0]["exp_avg"])


def test_distributed_optimizer_shares_the_wrapped_state():
    model = MLP([3, 4, 2])
    inner = cr.optim.SGD(list(model.parameters()), lr=0.1)
    opt = dist.DistributedOptimizer(inner)
    assert opt.param_groups is inner.param_groups
    opt.param_groups[0]["lr"] = 0.5
    assert inner.param_groups[0]["lr"] == 0.5
    extra = cr.nn.Parameter(cr.zeros(3))
    opt.add_param_group({"params": [extra]})
    assert len(opt.reducer.params) == len(list(model.parameters())) + 1
    with pytest.raises(TypeError, match="expected a chainrule optimiser"):
        dist.DistributedOptimizer(model)


def test_model_signature_and_checksum_in_one_process():
    a, b = MLP([3, 4, 2]), MLP([3, 5, 2])
    assert dist.model_signature(a)[0] == ("net.0.weight", (4, 3), "float32")
    assert dist.check_same_model(a) == dist.check_same_model(MLP([3, 4, 2]))
    assert dist.check_same_model(a) != dist.check_same_model(b)
    bn = cr.nn.BatchNorm1d(4)
    assert ("running_mean (buffer)", (4,), "float32") in dist.model_signature(bn)


def test_in_one_process_every_collective_is_the_identity():
    assert dist.all_reduce_sum([1.5, 2]).tolist() == [1.5, 2.0]
    assert dist.broadcast_object({"a": 1}) == {"a": 1}
    assert dist.gather_object(3) == [3]
    assert dist.on_main(lambda: 7) == 7
    with pytest.raises(KeyError):
        dist.on_main(lambda: {}["missing"])
    p = cr.nn.Parameter(cr.ones(3))
    p.grad = cr.tensor([1.0, 2.0, 3.0])
    before = p.grad
    dist.GradientReducer([p]).reduce()
    assert p.grad is before
    dist.broadcast_parameters(MLP([2, 2]))
    dist.barrier()
    with pytest.raises(ZeroDivisionError), dist.abort_on_error():
        _ = 1 / 0
    assert dist.rank_seed(0) != dist.rank_seed(1) and dist.rank_seed(0, 1) != dist.rank_seed(0)
    assert dist_comm.is_initialized()


# ------------------------------------------------------------------ real jobs, mpirun -n 2


@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    if MPI_MISSING:
        pytest.skip(MPI_MISSING)
    out = tmp_path_factory.mktemp("dist") / "results.json"
    r = run_mpi(sys.executable, str(WORKER), "train", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(out.read_text())


@needs_mpi
@pytest.mark.parametrize(
    "run,opt,dtype",
    [
        ("sgd", "sgd", "float32"),
        ("adam", "adam", "float32"),
        ("adam_small_buckets", "adam", "float32"),
        ("sgd_float64_reduced_in_float32", "sgd", "float64"),
    ],
)
def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(two_rank_results, run, opt, dtype):
    got = two_rank_results[run]
    want = worker.reference_run(opt, dtype)
    assert two_rank_results[f"{run}.same_on_all_ranks"] == 2  # both ranks hold the same weights
    assert got.keys() == want.keys()
    for k in want:
        # float32 tolerance: the mean of two half-batch gradients is rounded differently.
        np.testing.assert_allclose(np.array(got[k]), want[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # ...and not trivially: 5 steps moved the weights well beyond that tolerance.
    cr.manual_seed(0)  # the weights both runs started from
    start = MLP(worker.SIZES)
    assert any(
        np.abs(np.array(got[k]) - v.numpy()).max() > 1e-2 for k, v in start.named_parameters()
    )


@needs_mpi
def test_small_buckets_split_the_gradients(two_rank_results):
    assert two_rank_results["buckets.adam_small_buckets"] > 2


@needs_mpi
def test_two_ranks_shard_each_epoch_exactly_once(two_rank_results):
    n = len(worker.make_data())
    served = two_rank_results["served"]  # [rank][epoch] -> indices
    assert two_rank_results["batches_by_rank"][0] == two_rank_results["batches_by_rank"][1]
    for epoch in range(2):
        a, b = served[0][epoch], served[1][epoch]
        assert len(a) == len(b) == -(-n // 2)
        counts = np.bincount(a + b, minlength=n)
        assert counts.min() == 1 and counts.sum() == 2 * len(a)
        # Only the padding (2·ceil(N/2) - N examples) is served twice, once on each rank.
        assert len(set(a) & set(b)) == 2 * len(a) - n
    assert served[0][0] != served[0][1]


@needs_mpi
def test_missing_gradients_are_zeros_and_none_stays_none(two_rank_results):
    for ranked in two_rank_results["none_grads_by_rank"]:
        assert ranked["a"] == [1.5, 1.5, 1.5]  # mean of 1 (rank 0) and 2 (rank 1)
        assert ranked["unused_is_none"] is True
        assert ranked["only_rank0"] == [2.0, 2.0]  # mean of 4 and nothing (zero)
        assert ranked["steps"] == 1 and ranked["allreduce_seconds"] > 0


@needs_mpi
def test_mismatched_models_are_refused_on_every_rank():
    r = run_mpi(sys.executable, str(WORKER), "mismatch", timeout=60)
    assert r.returncode != 0
    # mpirun forwards the ranks' output in chunks, so their lines may run into each other:
    # check each rank's refusal and that each detail appears once per rank.
    for rank in (0, 1):
        assert f"rank {rank} refused: the ranks were given different models" in r.stdout
    assert (
        r.stdout.count("'net.0.weight' is (16, 6) float32 on rank 0 but (12, 6) float32 on rank 1")
        == 2
    )
    assert r.stdout.count("'net.6.weight' (5, 3) float32 exists on rank 1 only") == 2
    assert "accepted" not in r.stdout


@needs_mpi
def test_an_exception_on_one_rank_ends_the_job_with_its_message():
    t0 = time.monotonic()
    r = run_mpi(sys.executable, str(WORKER), "crash", timeout=60)
    assert r.returncode == 1
    assert "rank 1 of 2 failed" in r.stderr
    assert "RuntimeError: simulated failure on rank 1 at step 3" in r.stderr
    assert "ending the job (MPI_Abort, code 1)" in r.stderr
    assert time.monotonic() - t0 < 30


@needs_mpi
def test_kill_9_of_one_rank_ends_the_job_within_60_seconds(tmp_path):
    proc = subprocess.Popen(
        mpirun(sys.executable, str(WORKER), "spin", str(tmp_path)),
        env=mpi_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids = {}
    try:
        deadline = time.monotonic() + 60
        while len(pids) < 2 and time.monotonic() < deadline and proc.poll() is None:
            for rank in (0, 1):
                f = tmp_path / f"{rank}.pid"
                if rank not in pids and f.exists():
                    pids[rank] = int(f.read_text())
            time.sleep(0.05)
        assert len(pids) == 2, "the ranks did not start stepping"
        os.kill(pids[1], signal.SIGKILL)
        t0 = time.monotonic()
        out, _ = proc.communicate(timeout=60)  # raises TimeoutExpired: the job hung
        took = time.monotonic() - t0
        assert proc.returncode != 0
        assert "exited on signal 9 (Killed)" in out, out
        assert took < 60
        # The surviving rank does not linger (mpirun ends it too).
        gone = time.monotonic() + 20
        while _alive(pids[0]) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not _alive(pids[0]), "rank 0 outlived the job"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids.values():  # only the processes this test started
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by mpirun's orted) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@needs_mpi
def test_chainrule_train_under_mpirun_writes_on_rank_0_only_and_resumes(tmp_path):
    # Each rank runs in its own folder (mpirun's per-rank -wdir) with a relative --out, so a
    # file written by rank 1 would show up in r1/, and rank 1 cannot read rank 0's checkpoint:
    # --resume must hand it over by MPI.
    r0, r1 = tmp_path / "r0", tmp_path / "r1"
    r0.mkdir()
    r1.mkdir()
    args = "train mlp --data digits --batch-size 32 --limit 512 --seed 3 --out run"

    def launch(extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "chainrule.cli.main", *f"{args} {extra}".split()]
        mpmd = ["-n", "1", "-wdir", str(r0), *cmd, ":", "-n", "1", "-wdir", str(r1), *cmd]
        return subprocess.run(
            [shutil.which("mpirun"), "--oversubscribe", *mpmd],
            env=mpi_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = launch("--epochs 1")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("test accuracy") == 1 and first.stdout.count("Epoch 1:") == 1
    assert "data-parallel on 2 processes: 32 examples per process per step, 64 in all" in (
        first.stdout
    )
    files = sorted(p.name for p in (r0 / "run").iterdir())
    assert files == ["checkpoint.safetensors", "curves.png", "metrics.jsonl", "model.safetensors"]
    assert list(r1.iterdir()) == [], "rank 1 wrote files"

    second = launch("--epochs 2 --resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming from run/checkpoint.safetensors after epoch 1" in second.stdout
    assert list(r1.iterdir()) == []
    rows = [json.loads(x) for x in (r0 / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]

    # One process with batch 64 over the same 512 examples (a multiple of 64: no padding) takes
    # the same steps: the 2-rank run, resumed half-way, must land on the same weights.
    from chainrule.training.trainer import TrainConfig, train

    single = TrainConfig(
        model="mlp", data="digits", batch_size=64, limit=512, seed=3, epochs=2,
        out=str(tmp_path / "single"),
    )  # fmt: skip
    result = train(single, log=lambda s: None)
    a = cr.load(str(r0 / "run" / "model.safetensors"))
    b = cr.load(str(tmp_path / "single" / "model.safetensors"))
    for k in b:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    # The figures of the distributed run cover both ranks' data: the same as one process's.
    single_rows = [json.loads(x) for x in open(tmp_path / "single" / "metrics.jsonl")]
    assert rows[1]["val_accuracy"] == pytest.approx(single_rows[1]["val_accuracy"], abs=0.01)
    assert rows[1]["train_loss"] == pytest.approx(single_rows[1]["train_loss"], rel=1e-3)
    assert f"test accuracy {result['test_accuracy']:.4f}" in second.stdout
