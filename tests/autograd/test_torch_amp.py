"""torch.amp against the installed torch: CPU ``autocast`` (its dtypes, values, gradients,
nesting and refusals), ``GradScaler`` step by step, ``custom_fwd``/``custom_bwd``, and the
``torch.cuda.amp`` spellings that warn and pass through without CUDA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


# ----- amp: autocast -----
def _autocast_cases(lib):
    F = lib.nn.functional
    r = np.random.RandomState(0)
    x, w, b = (lib.tensor(r.randn(*s).astype(np.float32)) for s in [(4, 3), (5, 3), (5,)])
    img, k = lib.tensor(r.randn(1, 2, 5, 5).astype(np.float32)), lib.tensor(r.randn(3, 2, 2, 2).astype(np.float32))  # fmt: skip
    lab = lib.tensor([0, 2, 1, 4])
    return {
        "linear": lambda: F.linear(x, w, b),
        "matmul": lambda: x @ w.T,
        "mm": lambda: lib.mm(x, w.T),
        "bmm": lambda: lib.bmm(x[None], w.T[None]),
        "einsum": lambda: lib.einsum("ij,kj->ik", x, w),
        "conv2d": lambda: F.conv2d(img, k),
        "conv1d": lambda: F.conv1d(img[:, :, 0], k[:, :, 0]),
        "conv_transpose2d": lambda: F.conv_transpose2d(img, k.transpose(0, 1)),
        "float64 matmul": lambda: x.double() @ w.T.double(),
        "int matmul": lambda: lib.ones(2, 2, dtype=lib.int64) @ lib.ones(2, 2, dtype=lib.int64),
        "relu after linear": lambda: F.relu(F.linear(x, w)),
        "softmax after linear": lambda: F.softmax(F.linear(x, w), -1),
        "float32 add": lambda: x + x,
        "mixed add": lambda: x.sum(1, keepdim=True) + F.linear(x, w),
        "mse_loss": lambda: F.mse_loss(F.linear(x, w), F.linear(x, w) * 0.5),
        "l1_loss": lambda: F.l1_loss(F.linear(x, w), F.linear(x, w) * 0.5),
        "smooth_l1_loss": lambda: F.smooth_l1_loss(F.linear(x, w), F.linear(x, w) * 0.5),
        "cross_entropy": lambda: F.cross_entropy(F.linear(x, w), lab),
        "nll_loss": lambda: F.nll_loss(F.log_softmax(F.linear(x, w), -1), lab),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(
            F.linear(x, w), F.linear(x, w).sigmoid()
        ),
        "layer_norm of bf16": lambda: F.layer_norm(F.linear(x, w), (5,)),
        "nn.Linear": lambda: lib.nn.Linear(3, 2)(x),
    }


@pytest.mark.parametrize("case", list(_autocast_cases(cr)))
def test_cpu_autocast_gives_torchs_dtypes_and_values(case):
    with cr.autocast(device_type="cpu", dtype=cr.bfloat16):
        ours = _autocast_cases(cr)[case]()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        theirs = _autocast_cases(torch)[case]()
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), case
    if case != "nn.Linear":  # (its weights are random)
        tol = 2**-6 * max(1.0, float(np.abs(theirs.detach().double().numpy()).max()))
        np.testing.assert_allclose(
            ours.float().numpy(), theirs.detach().float().numpy(), rtol=2**-6, atol=tol
        )


def test_autocast_gradients_return_in_the_parameters_dtype_as_torch():
    r = np.random.RandomState(1)
    x, w = r.randn(6, 4).astype(np.float32), r.randn(3, 4).astype(np.float32)
    lab = [0, 1, 2, 0, 1, 2]
    grads = []
    for lib in (cr, torch):
        xw, ww = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        with lib.autocast("cpu"):
            out = lib.nn.functional.linear(xw, ww)
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(lab))
        assert str(out.dtype).endswith("bfloat16") and str(loss.dtype).endswith("float32")
        loss.backward()
        assert str(ww.grad.dtype).endswith("float32") and str(xw.grad.dtype).endswith("float32")
        grads.append((xw.grad.numpy(), ww.grad.numpy(), float(loss.detach())))
    (gx, gw, lo), (tx, tw, lt) = grads
    assert abs(lo - lt) <= 2**-7 * abs(lt)
    np.testing.assert_allclose(gw, tw, rtol=2**-5, atol=2**-6)
    np.testing.assert_allclose(gx, tx, rtol=2**-5, atol=2**-6)


def test_autocast_state_nesting_decorator_and_refusals_as_torch():
    x, w = cr.ones(2, 3), cr.ones(4, 3)
    assert not cr.is_autocast_enabled("cpu") and cr.get_autocast_dtype("cpu") == cr.bfloat16
    assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    with cr.amp.autocast("cpu"):
        assert cr.is_autocast_enabled("cpu") and not cr.is_autocast_enabled()
        with cr.autocast("cpu", enabled=False):
            assert (x @ w.T).dtype == cr.float32
        assert (x @ w.T).dtype == cr.bfloat16
        with cr.autocast("cpu", dtype=cr.float16):
            assert (x @ w.T).dtype == cr.float16
    assert (x @ w.T).dtype == cr.float32 and not cr.is_autocast_enabled("cpu")

    @cr.autocast("cpu")
    def f(a, b):
        return a @ b

    @torch.autocast("cpu")
    def g(a, b):
        return a @ b

    assert f(x, w.T).dtype == cr.bfloat16 and g(torch.ones(2, 3), torch.ones(3, 4)).dtype == torch.bfloat16  # fmt: skip
    for lib in (cr, torch):  # an unsupported dtype: a warning, and autocast off
        with pytest.warns(UserWarning, match="target dtype is not supported. Disabling autocast"):
            ctx = lib.autocast("cpu", dtype=lib.float32)
        with ctx:
            assert (lib.ones(2, 3) @ lib.ones(3, 4)).dtype == lib.float32
    with pytest.raises(RuntimeError):
        torch.autocast("xyz")
    with pytest.raises(RuntimeError, match="unsupported device_type 'xyz'"):
        cr.autocast("xyz")
    with pytest.raises(TypeError):
        torch.autocast()
    with pytest.raises(TypeError):
        cr.autocast()


@pytest.mark.parametrize(
    "make", ["cuda.amp.autocast()", "autocast('cuda')", "amp.autocast('cuda')"]
)
def test_cuda_autocast_warns_and_is_disabled_as_torch(make):
    msgs = []
    for lib in (cr, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ctx = eval(make, {"cuda": lib.cuda, "amp": lib.amp, "autocast": lib.autocast})
        msgs.append([(w.category, str(w.message)) for w in caught])
        with ctx:
            out = lib.nn.functional.linear(lib.ones(2, 3), lib.ones(4, 3))
        assert str(out.dtype).endswith("float32")
    assert msgs[0] == msgs[1] and msgs[0][-1][1].startswith("CUDA is not available")


# ----- amp: GradScaler -----
def _scaled_training(lib, scaler_kwargs):
    """Six SGD steps through a GradScaler; the third has an infinite loss. Returns the scale,
    the step's return and the weights after each step, and the final state dict."""
    model = lib.nn.Linear(3, 1).double()
    with lib.no_grad():
        model.weight.copy_(lib.tensor([[0.5, -0.25, 1.0]], dtype=lib.float64))
        model.bias.fill_(0.1)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    scaler = lib.amp.GradScaler("cpu", **scaler_kwargs)
    x = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=lib.float64)
    trace = []
    for i in range(6):
        opt.zero_grad()
        loss = (model(x) ** 2).mean() * (float("inf") if i == 2 else 1.0)
        scaler.scale(loss).backward()
        if i == 4:
            scaler.unscale_(opt)  # as before gradient clipping
        ret = scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), ret, model.weight.detach().numpy().copy()))
    return trace, scaler.state_dict()


# NumPy warns of inf · 0 in the backward of the infinite step (PyTorch is silent): a
# numerics-warning gap of the engine's matmul, not of the scaler.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_grad_scaler_on_cpu_scales_skips_and_grows_as_torch():
    kw = dict(init_scale=1024.0, growth_interval=2)
    (ours, our_state), (theirs, their_state) = _scaled_training(cr, kw), _scaled_training(torch, kw)
    assert [s for s, _, _ in ours] == [s for s, _, _ in theirs] == [1024, 2048, 1024, 1024, 2048, 2048]  # fmt: skip
    assert [r for _, r, _ in ours] == [r for _, r, _ in theirs] == [None] * 6
    for (_, _, a), (_, _, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert np.array_equal(ours[1][2], ours[2][2])  # the infinite step was skipped
    assert our_state == their_state


def test_grad_scaler_refusals_and_state_round_trip_as_torch():
    for lib in (cr, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(p.sum()).backward()
        scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            scaler.unscale_(opt)
        scaler.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            scaler.step(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
            scaler.unscale_(opt)
        with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
            scaler.step(opt, closure=lambda: 0)
        scaler.update(512.0)
        assert scaler.get_scale() == 512.0
        other = lib.amp.GradScaler("cpu")
        other.load_state_dict(scaler.state_dict())
        assert other.state_dict() == scaler.state_dict()
        with pytest.raises(RuntimeError, match="The source state dict is empty"):
            other.load_state_dict({})


@pytest.mark.parametrize("make", ["amp.GradScaler()", "cuda.amp.GradScaler()", "amp.GradScaler('cpu', enabled=False)"])  # fmt: skip
def test_a_disabled_grad_scaler_passes_through_as_torch(make):
    seen = []
    for lib in (cr, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scaler = eval(make, {"amp": lib.amp, "cuda": lib.cuda})
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        opt = lib.optim.SGD([p], lr=0.5)
        loss = (p * p).sum()
        assert scaler.scale(loss) is loss and not scaler.is_enabled()
        loss.backward()
        scaler.unscale_(opt)
        assert scaler.step(opt) is None
        scaler.update()
        seen.append(([(w.category, str(w.message)) for w in caught], p.detach().numpy().tolist(),
                     scaler.get_scale(), scaler.state_dict()))  # fmt: skip
    assert seen[0] == seen[1] and seen[0][1] == [0.0, 0.0]


@pytest.mark.parametrize("cast_inputs", [None, "float32"])
def test_custom_fwd_and_bwd_follow_torchs_autocast_rules(cast_inputs):
    seen = []
    for lib in (cr, torch):
        amp = lib.amp

        class MatMul(lib.autograd.Function):
            @staticmethod
            @amp.custom_fwd(
                device_type="cpu", cast_inputs=cast_inputs and getattr(lib, cast_inputs)
            )
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a @ b

            @staticmethod
            @amp.custom_bwd(device_type="cpu")
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                return g @ b.transpose(0, 1), a.transpose(0, 1) @ g

        a = lib.ones(2, 3, requires_grad=True)
        b = lib.ones(3, 4, dtype=lib.bfloat16, requires_grad=True)
        with lib.autocast("cpu"):
            out = MatMul.apply(a, b)
        out.float().sum().backward()
        seen.append([str(t.dtype).replace("torch.", "") for t in (out, a.grad, b.grad)])
    out_dtype = "bfloat16" if cast_inputs is None else "float32"  # matmul in bf16, or not
    assert seen[0] == seen[1] == [out_dtype, "float32", "bfloat16"]  # grads: the leaves' dtypes


def test_cuda_custom_fwd_warns_as_torch():
    msgs = []
    for lib in (cr, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.cuda.amp.custom_fwd(lambda ctx, x: x)
            lib.cuda.amp.custom_bwd(lambda ctx, g: g)
        msgs.append([(w.category, str(w.message)) for w in caught])
    assert msgs[0] == msgs[1] and len(msgs[0]) == 2
