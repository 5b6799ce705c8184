"""Names real PyTorch programs import, each against the installed torch: ``bfloat16``,
``finfo``, ``backends.cudnn`` as a module, ``nn.parallel`` (``DistributedDataParallel`` also
under mpirun). ``amp`` is in tests/autograd/test_torch_amp.py."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = [1.1, 2.3, -3.7, 1e-3, 250.6, -0.0]


def _same(ours, theirs, exact=True):
    """Same dtype name and the same values (bfloat16 compared through float32, exactly)."""
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    a = ours.double().numpy()
    b = theirs.double().numpy()
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=2**-7, atol=0)


# ----- bfloat16 -----
@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.tensor(X, dtype=lib.bfloat16),
        lambda lib: lib.tensor(X).to(lib.bfloat16),
        lambda lib: lib.tensor(X).bfloat16(),
        lambda lib: lib.tensor(X, dtype=lib.float64).to(dtype=lib.bfloat16),
        lambda lib: lib.zeros(3, dtype=lib.bfloat16) + 0.1,
        lambda lib: lib.tensor([1, 2, 3]).to(lib.bfloat16),
    ],
)
def test_bfloat16_creation_rounds_as_torch(make):
    _same(make(cr), make(torch))


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a * b,
        lambda a, b: a / b,
        lambda a, b: a - 2.5 * b,
        lambda a, b: a.exp() + b.tanh(),
        lambda a, b: (a * b).sqrt(),
        lambda a, b: a**2,
        lambda a, b: a.sum(),
        lambda a, b: a.abs().max(),
    ],
)
def test_bfloat16_arithmetic_rounds_each_result_as_torch(op):
    a_np = np.random.RandomState(0).rand(4, 5).astype(np.float32) + 0.5
    b_np = np.random.RandomState(1).rand(4, 5).astype(np.float32) + 0.5
    ours = op(cr.tensor(a_np).bfloat16(), cr.tensor(b_np).bfloat16())
    theirs = op(torch.tensor(a_np).bfloat16(), torch.tensor(b_np).bfloat16())
    _same(ours, theirs)


def test_bfloat16_matmul_conv_and_long_sums_match_torch():
    r = np.random.RandomState(3)
    a, b = r.randn(16, 24).astype(np.float32), r.randn(24, 8).astype(np.float32)
    _same(
        cr.tensor(a).bfloat16() @ cr.tensor(b).bfloat16(),
        torch.tensor(a).bfloat16() @ torch.tensor(b).bfloat16(),
    )
    x, w = r.randn(2, 3, 6, 6).astype(np.float32), r.randn(4, 3, 3, 3).astype(np.float32)
    _same(
        cr.nn.functional.conv2d(cr.tensor(x).bfloat16(), cr.tensor(w).bfloat16()),
        torch.nn.functional.conv2d(torch.tensor(x).bfloat16(), torch.tensor(w).bfloat16()),
    )
    v = r.randn(100_000).astype(np.float32)  # summed in float32 (not bfloat16) as torch does
    _same(cr.tensor(v).bfloat16().sum(), torch.tensor(v).bfloat16().sum(), exact=False)


@pytest.mark.parametrize(
    ("other", "dim"),
    [("float32", 1), ("float16", 1), ("float64", 1), ("int64", 1), ("float32", 0), ("py", 0)],
)
def test_bfloat16_promotes_as_torch(other, dim):
    def run(lib):
        a = lib.tensor(X, dtype=lib.bfloat16)
        if other == "py":
            return a * 1.5, 1.5 * a
        b = lib.tensor([2] * len(X) if dim else 2, dtype=getattr(lib, other))
        return a + b, b * a

    for ours, theirs in zip(run(cr), run(torch)):
        _same(ours, theirs)


def test_bfloat16_prints_converts_back_and_carries_gradients():
    a = cr.tensor([1.1, -3.7]).bfloat16()
    # PyTorch prints it as tensor([ 1.1016, -3.7031], dtype=torch.bfloat16)
    assert repr(a) == "tensor([ 1.1016, -3.7031], dtype=bfloat16)"
    assert a.float().dtype == cr.float32 and a.float().tolist() == [1.1015625, -3.703125]
    assert a.type() == torch.tensor([1.0]).bfloat16().type() == "torch.BFloat16Tensor"
    assert cr.bfloat16 == cr.backend.bfloat16_dtype() and str(cr.bfloat16) == "bfloat16"
    ours = cr.tensor(X, requires_grad=True)
    theirs = torch.tensor(X, requires_grad=True)
    (ours.bfloat16() * 3).float().sum().backward()
    (theirs.bfloat16() * 3).float().sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    leaf = cr.tensor(X, dtype=cr.bfloat16, requires_grad=True)
    (leaf * leaf).sum().backward()
    _same(leaf.grad, (lambda t: (t * t).sum().backward() or t.grad)(
        torch.tensor(X, dtype=torch.bfloat16, requires_grad=True)))  # fmt: skip


@pytest.mark.parametrize("name", ["bfloat16", "float16", "float32", "float64"])
def test_finfo_is_floating_point_and_clamp_as_torch(name):
    ours, theirs = cr.finfo(getattr(cr, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert float(getattr(ours, attr)) == float(getattr(theirs, attr)), attr
    assert cr.ones(2, dtype=getattr(cr, name)).is_floating_point()
    _same(
        cr.tensor(X, dtype=getattr(cr, name)).clamp(-1, 2.5),
        torch.tensor(X, dtype=getattr(torch, name)).clamp(-1, 2.5),
    )
    assert not cr.ones(2, dtype=cr.int64).is_floating_point()
    assert cr.iinfo(cr.int32).max == torch.iinfo(torch.int32).max
    with pytest.raises(TypeError, match="finfo: expected a floating dtype"):
        cr.finfo(cr.int64)


def test_a_bfloat16_model_trains_as_torch():
    r = np.random.RandomState(4)
    w, b = r.randn(3, 4).astype(np.float32), r.randn(3).astype(np.float32)
    x = r.randn(5, 4).astype(np.float32)
    out = []
    for lib in (cr, torch):
        m = lib.nn.Linear(4, 3)
        m.load_state_dict({"weight": lib.tensor(w), "bias": lib.tensor(b)})
        m = m.to(lib.bfloat16)
        opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            (m(lib.tensor(x).to(lib.bfloat16)) ** 2).mean().backward()
            opt.step()
        assert str(m.weight.dtype).endswith("bfloat16")
        out.append(m.weight.detach().float().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=2**-6, atol=2**-6)


# ----- torch.backends as modules -----
def test_backends_cudnn_is_a_module_with_settable_flags_as_torch():
    import torch.backends.cudnn as tcudnn

    import chainrule.backends.cudnn as cudnn

    assert cudnn is cr.backends.cudnn
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(tcudnn, name), name
    assert cudnn.is_available() is tcudnn.is_available() is False
    assert cudnn.version() is tcudnn.version() is None
    cudnn.benchmark, cudnn.deterministic, cudnn.enabled = True, True, False
    try:
        assert cr.backends.cudnn.benchmark and cr.backends.cudnn.deterministic
        with cudnn.flags(enabled=True, benchmark=False):
            assert cudnn.enabled and not cudnn.benchmark
        assert cudnn.benchmark and not cudnn.enabled
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = False, False, True
    assert cr.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert cr.backends.cuda.is_built() is torch.backends.cuda.is_built() is False
    assert cr.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32


# ----- nn.parallel -----
def _linear_pair():
    theirs = torch.nn.Linear(3, 2).double()
    ours = cr.nn.Linear(3, 2).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("wrap", ["DataParallel", "parallel.DataParallel", "DDP"])
def test_parallel_wrappers_pass_through_with_module_prefixed_keys_as_torch(wrap):
    ours, theirs = _linear_pair()
    if wrap == "DDP":
        o = cr.nn.parallel.DistributedDataParallel(ours)
        t = torch.nn.DataParallel(theirs)  # torch's DDP needs a process group; same contract
    elif wrap == "DataParallel":
        o, t = cr.nn.DataParallel(ours, device_ids=[0]), torch.nn.DataParallel(theirs, [0])
        assert o.device_ids == t.device_ids == []  # no GPU: PyTorch drops them, runs the module
    else:
        o, t = cr.nn.parallel.DataParallel(ours), torch.nn.parallel.DataParallel(theirs)
    assert o.module is ours and t.module is theirs
    assert list(o.state_dict()) == list(t.state_dict()) == ["module.weight", "module.bias"]
    assert [n for n, _ in o.named_parameters()] == [n for n, _ in t.named_parameters()]
    x = np.random.RandomState(0).randn(4, 3)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (o(xo) ** 2).sum().backward()
    (t(xt) ** 2).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    again = cr.nn.DataParallel(cr.nn.Linear(3, 2).double())
    again.load_state_dict({k: cr.tensor(v.numpy()) for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(again.module.weight.numpy(), theirs.weight.detach().numpy())


def test_ddp_refuses_gpu_devices():
    with pytest.raises(ValueError, match="device_ids and output_device must be None"):
        cr.nn.parallel.DistributedDataParallel(cr.nn.Linear(2, 2), device_ids=[0])


def _mpi_missing() -> str | None:
    import importlib.util
    import shutil
    import subprocess

    if shutil.which("mpirun") is None or importlib.util.find_spec("mpi4py") is None:
        return "mpirun or mpi4py missing (bash setup.sh installs both)"
    version = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
    return None if "Open MPI" in version or "OpenRTE" in version else "not Open MPI's mpirun"


@pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))
def test_ddp_under_mpirun_averages_gradients_over_the_ranks(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).parents[1] / "distributed" / "ddp_worker.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_COMM", "PMI_"))}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")  # fmt: skip
    out = tmp_path / "ddp.json"
    cmd = ["mpirun", "--oversubscribe", "-n", "2", sys.executable, str(worker), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["same_start"][0] == r["same_start"][1]  # rank 0's weights everywhere
    local, ddp = np.array(r["local_grad"]), np.array(r["ddp_grad"])
    assert np.abs(local[0] - local[1]).max() > 0.1  # the ranks saw different data
    np.testing.assert_array_equal(ddp[0], ddp[1])
    np.testing.assert_allclose(ddp[0], local.mean(0), rtol=1e-5, atol=1e-6)  # the mean
    np.testing.assert_allclose(np.array(r["inside_no_sync"]), local, rtol=1e-6)  # not averaged
    after = np.array(r["after_no_sync"])  # the accumulated sum of two passes, then averaged
    np.testing.assert_allclose(after[0], 2 * local.mean(0), rtol=1e-5, atol=1e-6)
    assert r["final"][0] == r["final"][1] and r["keys"] == ["module.weight", "module.bias"]


def test_a_queued_callback_runs_once_every_gradient_is_in():
    from chainrule.autograd.engine import queue_callback

    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            queue_callback(lambda: seen.append(w.grad.tolist()))
            return g

    (Probe.apply(w * 3) * w).sum().backward()  # w's second path is summed after Probe's
    assert seen == [[6.0, 12.0]]  # d(3w·w)/dw = 6w: both paths in, not only the first
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        queue_callback(print)


def test_a_step_that_queues_a_callback_stays_eager_under_compile():
    from chainrule.autograd.engine import queue_callback

    calls = []

    class Probe(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            queue_callback(lambda: calls.append(1))
            return g

    w = cr.tensor([1.0, 2.0], requires_grad=True)

    @cr.compile
    def step():
        w.grad = None
        (Probe.apply(w) * w).sum().backward()

    with pytest.warns(cr.jit.CompileWarning, match="running eagerly"):  # as DDP's output node
        for _ in range(4):
            step()
    assert len(calls) == 4  # a replay would have skipped it
