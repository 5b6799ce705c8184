"""Type promotion as PyTorch's (API.md version 2): tensor with tensor, tensor with a Python
scalar, 0-d tensors as scalars, and the gradient kept in its own tensor's dtype. Each case is
compared with PyTorch on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

# ----- type promotion -----
DT = {
    "i64": (cr.int64, torch.int64),
    "i32": (np.int32, torch.int32),
    "u8": (np.uint8, torch.uint8),
    "b": (cr.bool, torch.bool),
    "f32": (cr.float32, torch.float32),
    "f64": (cr.float64, torch.float64),
}


def _make(kind, zero_d):
    ours_dt, torch_dt = DT[kind]
    v = [1, 2, 1] if not zero_d else 1
    if ours_dt is cr.bool:
        v = [True, True, True] if not zero_d else True
    return cr.tensor(np.array(v, dtype=ours_dt)), torch.tensor(v, dtype=torch_dt)


@pytest.mark.parametrize("a", sorted(DT))
@pytest.mark.parametrize("b", sorted(DT))
@pytest.mark.parametrize("b_zero_d", [False, True])
@pytest.mark.parametrize("op", ["add", "mul", "truediv"])
def test_tensor_tensor_promotion_is_torchs(a, b, b_zero_d, op):
    (oa, ta), (ob, tb) = _make(a, False), _make(b, b_zero_d)
    if op == "add" and "b" in (a, b) and a == b:
        pytest.skip("bool + bool: torch gives bool, a logical or; not an arithmetic case")
    fn = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "truediv": lambda x, y: x / y}[op]
    got, want = fn(oa, ob), fn(ta, tb)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (a, b, op)
    assert cr.result_type(oa, ob) == got.dtype or op == "truediv"
    np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float))


@pytest.mark.parametrize("a", sorted(DT))
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_tensor_scalar_promotion_is_torchs(a, scalar):
    oa, ta = _make(a, False)
    for fn in (lambda x: x * scalar, lambda x: scalar + x, lambda x: x - scalar):
        try:
            want = fn(ta)
        except RuntimeError:  # torch refuses `-` on bool tensors: so must we
            with pytest.raises((TypeError, RuntimeError)):
                fn(oa)
            continue
        got = fn(oa)
        if want.dtype == torch.bool:
            continue
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), (a, scalar)


def test_integer_tensor_times_a_float_gives_the_default_float():
    n = cr.arange(3)
    assert (n * 0.5).dtype == cr.float32 and (n / 2).dtype == cr.float32
    assert (n**0.5).dtype == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert (n * 0.5).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)


def test_promotion_keeps_the_gradient_in_its_own_dtype():
    w = cr.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = w * cr.tensor(3.0, dtype=cr.float64)  # a 0-d float64 does not lift float32
    assert y.dtype == cr.float32
    z = (w * cr.tensor([1.0, 1.0], dtype=cr.float64)).sum()  # a dimensioned float64 does
    assert z.dtype == cr.float64
    z.backward()
    assert w.grad.dtype == cr.float32
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
