"""Devices, dtype names, creation functions, and the PyTorch signatures of the top-level functions
and method forms, each checked against PyTorch on the same inputs."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


# ----- devices -----
def test_the_cpu_device_is_pytorchs():
    assert repr(cr.device("cpu")) == repr(torch.device("cpu")) == "device(type='cpu')"
    assert repr(cr.device("cpu:0")) == repr(torch.device("cpu:0"))
    assert str(cr.device("cpu", 0)) == str(torch.device("cpu", 0)) == "cpu:0"
    assert cr.device("cpu") == "cpu" and cr.device(cr.device("cpu")) == cr.device("cpu")
    assert cr.zeros(2).device == cr.device("cpu") and not cr.zeros(2).is_cuda


@pytest.mark.parametrize("asked", ["cuda", "cuda:0", "mps", 0])
def test_a_gpu_is_refused_with_the_reason(asked):
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.zeros(2, device=asked)
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.ones(2).to(asked)
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.nn.Linear(2, 2).to(asked)


def test_an_unknown_device_string_is_not_a_device():
    with pytest.raises(RuntimeError, match="device type"):
        cr.device("gpu")


def test_the_questions_programs_ask_are_answered_no(monkeypatch):
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.accelerator.is_available() is False and cr.accelerator.current_accelerator() is None
    assert cr.backends.mps.is_available() is False
    cr.cuda.manual_seed_all(0)  # harmless without a GPU, as in PyTorch
    # a settable flag (set through monkeypatch so that the module keeps PyTorch's default after)
    monkeypatch.setattr(cr.backends.cudnn, "deterministic", True)
    assert cr.backends.cudnn.deterministic is True
    cr.set_default_device("cpu")
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.ones(1).cuda()


# ----- dtypes -----
@pytest.mark.parametrize(
    "name", ["float", "double", "half", "long", "int", "short", "int8", "uint8", "bool", "float16"]
)
def test_dtype_names_mean_what_pytorchs_mean(name):
    ours, theirs = getattr(cr, name), getattr(torch, name)
    assert np.dtype(ours) == torch.zeros(1, dtype=theirs).numpy().dtype


@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "bool"])
def test_conversion_methods_match_torch(method):
    x = np.array([-1.5, 0.0, 2.7])
    ours = getattr(cr.tensor(x), method)()
    theirs = getattr(torch.tensor(x), method)()
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_type_names_and_conversion():
    assert cr.zeros(2).type() == torch.zeros(2).type() == "torch.FloatTensor"
    assert cr.zeros(2, dtype=cr.long).type() == torch.zeros(2, dtype=torch.long).type()
    assert cr.zeros(2).type(cr.double).dtype == np.float64


def test_to_takes_pytorchs_forms():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x and x.to(cr.device("cpu")) is x
    assert x.to(cr.float64).dtype == np.float64
    assert x.to("cpu", cr.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=cr.float64, non_blocking=True).dtype == np.float64
    assert x.to(cr.zeros(1, dtype=cr.float64)).dtype == np.float64
    y = x.to(cr.float64)
    y.sum().backward()  # a dtype change stays in the graph
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_module_to_device_and_dtype():
    net = cr.nn.Linear(2, 3)
    assert net.to("cpu") is net and net.cpu() is net
    assert net.to(cr.device("cpu"), cr.float64).weight.dtype == np.float64


# ----- creation -----
def test_linspace_logspace_eye_match_torch():
    np.testing.assert_allclose(
        cr.linspace(-np.pi, np.pi, 7, device="cpu").numpy(),
        torch.linspace(-np.pi, np.pi, 7).numpy(),
        rtol=1e-6,
    )
    assert cr.linspace(0, 1, 5).dtype == np.float32
    assert cr.linspace(0, 1, 5, dtype=cr.float64).dtype == np.float64
    np.testing.assert_allclose(
        cr.logspace(0, 2, 3, base=2.0).numpy(), torch.logspace(0, 2, 3, base=2.0).numpy()
    )
    np.testing.assert_array_equal(cr.eye(2, 3).numpy(), torch.eye(2, 3).numpy())


def test_like_functions_keep_shape_and_dtype():
    t = cr.zeros(2, 3, dtype=cr.float64)
    for f in (cr.empty_like, cr.randn_like, cr.rand_like):
        out = f(t)
        assert out.shape == (2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(cr.full_like(t, 7).numpy(), np.full((2, 3), 7.0))
    assert cr.empty(2, 3).shape == (2, 3)


def test_randint_and_randperm():
    cr.manual_seed(0)
    a = cr.randint(3, 7, (1000,))
    b = cr.randint(5, size=(4, 2))
    assert a.dtype == np.int64 and a.numpy().min() == 3 and a.numpy().max() == 6
    assert b.shape == (4, 2) and 0 <= b.numpy().min() and b.numpy().max() < 5
    p = cr.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))


def test_as_tensor_shares_an_array_when_it_can():
    a = np.arange(3.0)
    t = cr.as_tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 5.0
    assert cr.as_tensor(t) is t
    assert cr.as_tensor([1, 2]).dtype == np.int64


# ----- PyTorch's signatures and method forms -----
def _pair(rng, *shape):
    x = rng.standard_normal(shape)
    return cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


CALLS = {
    "sum_dim_keepdim": lambda m, x: m.sum(input=x, dim=1, keepdim=True),
    "mean_dim": lambda m, x: m.mean(x, dim=0),
    "sum_dtype": lambda m, x: m.sum(x, dtype=m.float64),
    "softmax_dim": lambda m, x: m.softmax(x, dim=1),
    "log_softmax_dim": lambda m, x: m.log_softmax(x, dim=0),
    "logsumexp": lambda m, x: m.logsumexp(x, dim=1),
    "matmul_keywords": lambda m, x: m.matmul(input=x, other=x.T),
    "mm": lambda m, x: m.mm(x, x.T),
    "bmm": lambda m, x: m.bmm(x.unsqueeze(0), x.T.unsqueeze(0)),
    "add_alpha": lambda m, x: m.add(x, x * x, alpha=0.5),
    "sub_alpha": lambda m, x: x.sub(x * x, alpha=2),
    "div_floor": lambda m, x: x.div(0.3, rounding_mode="floor").detach() + x,
    "div_trunc": lambda m, x: m.div(x.detach(), 0.3, rounding_mode="trunc") + x,
    "floordiv": lambda m, x: (x // 0.3).detach() + (2.0 // x.detach()) + x,
    "remainder": lambda m, x: x % 0.3 + 2.0 % (x.detach().abs() + 1) + x,
    "pow_method": lambda m, x: x.pow(2) + m.pow(2.0, x),
    "pow_tensor_exponent": lambda m, x: x.unsqueeze(-1).pow(m.tensor([1, 2, 3])),
    "clone": lambda m, x: x.clone() * x,
    "contiguous_of_transpose": lambda m, x: x.T.contiguous() * 2,
    "expand_minus_one": lambda m, x: x[:1].expand(4, -1),
    "expand_as": lambda m, x: x[:, :1].expand_as(x) * x,
    "narrow": lambda m, x: x.narrow(1, 1, 2) * x.narrow(-1, -2, 2),
    "view_as": lambda m, x: x.view_as(x.T) * 3,
    "square_neg": lambda m, x: m.square(x) - m.neg(x),
    "flatten_keywords": lambda m, x: m.flatten(x.unsqueeze(0), start_dim=1),
    "squeeze_unsqueeze": lambda m, x: m.squeeze(m.unsqueeze(x, dim=0), dim=0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_top_level_and_method_forms_match_torch(rng, name):
    ours, theirs = _pair(rng, 3, 4)
    got, want = CALLS[name](cr, ours), CALLS[name](torch, theirs)
    assert tuple(got.shape) == tuple(want.shape) and got.dtype == want.detach().numpy().dtype
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-12)
    cot = rng.standard_normal(tuple(want.shape))
    got.backward(cr.tensor(cot.astype(got.dtype)))
    want.backward(torch.tensor(cot.astype(got.dtype)))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_comparison_functions_match_torch(rng):
    x = rng.integers(0, 3, (5,)).astype(float)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        got = getattr(cr, name)(cr.tensor(x), 1.0)
        want = getattr(torch, name)(torch.tensor(x), 1.0)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        np.testing.assert_array_equal(getattr(cr.tensor(x), name)(1.0).numpy(), want.numpy())


def test_new_factories_take_the_tensors_dtype():
    x = cr.zeros(2, dtype=cr.float64)
    assert x.new_zeros(3).dtype == np.float64 and x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 4).tolist() == [4.0, 4.0] and x.new_tensor([1, 2]).dtype == np.float64
    assert x.new_empty(1).shape == (1,)


def test_softmax_without_dim_is_refused_not_guessed():
    with pytest.raises(TypeError, match="dim"):
        cr.softmax(cr.zeros(2, 3))


def test_mm_needs_matrices():
    with pytest.raises(cr.ShapeError, match=r"mm: expected 2-D tensors, got shapes \(3,\)"):
        cr.zeros(3).mm(cr.zeros(3, 2))


# ----- .grad assignment -----
def test_grad_assignment_is_checked_as_pytorchs():
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or None but got grad of type float"):
        w.grad = 0.0
    with pytest.raises(RuntimeError, match="assigned grad has shape"):
        w.grad = cr.zeros(3)
    w.grad = cr.ones(2)
    (w * 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])  # accumulates onto the assigned one
    w.grad = None
    assert w.grad is None


def test_narrow_is_a_view_as_in_pytorch():
    x, tx = cr.zeros(3, 4), torch.zeros(3, 4)
    x.narrow(1, 1, 2).fill_(7.0)
    tx.narrow(1, 1, 2).fill_(7.0)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    with pytest.raises(cr.ShapeError, match="narrow: start 3 and length 2"):
        x.narrow(1, 3, 2)
