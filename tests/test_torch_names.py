"""Names real PyTorch programs import, each against the installed torch: ``bfloat16``,
``backends.cudnn`` as a module, ``nn.parallel`` and ``amp`` (``autocast``, ``GradScaler``)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = [1.1, 2.3, -3.7, 1e-3, 250.6, -0.0]


def _same(ours, theirs, exact=True):
    """Same dtype name and the same values (bfloat16 compared through float32, exactly)."""
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    a = np.asarray(ours.float().numpy(), np.float64)
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
    assert repr(a) == "tensor([1.10156, -3.70312], dtype=bfloat16)"
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
