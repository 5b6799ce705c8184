"""Each op is defined once: Tensor's methods live in the class or the bases it names (none is
attached from outside), a method that is one of PyTorch's functions is that function, and the
names PyTorch gives one op (``x.sigmoid``, ``cr.sigmoid``, ``F.sigmoid``) reach it. Where
PyTorch's names differ in meaning (``F.softmax``'s legacy implicit dim, ``torch.softmax``'s
required one), they differ here in the same way, checked against torch."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd.tensor import Tensor


def _defining_class(value) -> str | None:
    """The class a function or property was written in, from its qualified name."""
    f = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
    qual = getattr(f, "__qualname__", "")
    return qual.rsplit(".", 1)[0] if "." in qual and "<locals>" not in qual else None


def test_every_tensor_method_is_written_in_a_class_tensor_names():
    mro = {c.__qualname__: c for c in Tensor.__mro__}
    for cls in Tensor.__mro__:
        for name, value in vars(cls).items():
            owner = _defining_class(value)
            # Written in a class of Tensor's MRO, and found in that class (not set from outside).
            assert owner is None or (owner in mro and name in vars(mro[owner])), (cls, name)
    for base in Tensor.__bases__:
        assert base.__slots__ == ()  # Tensor's instances keep its slots, no __dict__
    assert not hasattr(cr.tensor([1.0]), "__dict__")


@pytest.mark.parametrize(
    "name",
    ["sum", "mean", "var", "std", "max", "min", "amax", "argmax", "softmax", "log_softmax",
     "logsumexp", "cumsum", "prod", "norm", "sort", "topk", "median", "exp", "log", "sin",
     "cos", "tan", "tanh", "sigmoid", "relu", "clamp", "floor", "sign", "lerp", "add", "sub",
     "mul", "div", "pow", "eq", "logical_and", "matmul", "dot", "mm", "bmm", "gather",
     "scatter_add", "index_select", "masked_fill", "tril", "roll", "split", "chunk", "unbind",
     "narrow", "squeeze", "unsqueeze", "flatten", "transpose", "permute", "clone"],
)  # fmt: skip
def test_the_method_is_the_function(name):
    assert getattr(Tensor, name) is getattr(cr, name)


def test_the_functional_names_reach_the_same_functions():
    assert F.sigmoid is cr.sigmoid and F.tanh is cr.tanh
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    np.testing.assert_array_equal(F.relu(x).numpy(), cr.relu(x).numpy())
    np.testing.assert_array_equal(F.softmax(x, 1).numpy(), cr.softmax(x, 1).numpy())
    np.testing.assert_array_equal(F.log_softmax(x, 0).numpy(), x.log_softmax(0).numpy())


def test_no_public_function_is_generated_by_reflection():
    for ns in (cr, F):
        for name in dir(ns):
            f = getattr(ns, name)
            if inspect.isfunction(f) and not name.startswith("_") and f.__name__ == name:
                inner = inspect.unwrap(f)
                assert inner.__code__.co_name == name, f"{ns.__name__}.{name}"


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)])
def test_functional_softmax_implicit_dim_warns_and_picks_torchs_dim(shape):
    a = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for ours, theirs in ((F.softmax, torch.nn.functional.softmax),
                         (F.log_softmax, torch.nn.functional.log_softmax)):  # fmt: skip
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            out = ours(cr.tensor(a))
        with warnings.catch_warnings(record=True) as want:
            warnings.simplefilter("always")
            ref = theirs(torch.tensor(a))
        assert [(w.category, str(w.message)) for w in got] == [
            (w.category, str(w.message)) for w in want
        ]
        assert got[0].filename == __file__  # the user's line, not chainrule's
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_softmax_function_and_method_require_dim_as_torch():
    a = np.ones((2, 3), np.float32)
    for ours, theirs in (
        (lambda: cr.softmax(cr.tensor(a)), lambda: torch.softmax(torch.tensor(a))),
        (lambda: cr.tensor(a).softmax(), lambda: torch.tensor(a).softmax()),
        (lambda: cr.tensor(a).log_softmax(), lambda: torch.tensor(a).log_softmax()),
    ):
        with pytest.raises(TypeError):
            theirs()
        with pytest.raises(TypeError, match="missing required argument 'dim'"):
            ours()


def test_softmax_dtype_converts_first_as_torch():
    a = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    out = cr.softmax(cr.tensor(a), 1, dtype=cr.float64)
    ref = torch.softmax(torch.tensor(a), 1, dtype=torch.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "args, kwargs",
    [((), {}), ((0,), {}), ((0, True), {}), ((1, False, True), {}), ((False,), {}),
     ((1,), {"keepdim": True}), ((), {"dim": 0, "correction": 0})],
)  # fmt: skip
def test_var_and_std_take_torchs_arguments_as_function_and_method(args, kwargs):
    a = np.random.default_rng(3).standard_normal((4, 3))
    for name in ("var", "std"):
        want = getattr(torch, name)(torch.tensor(a), *args, **kwargs).numpy()
        for got in (getattr(cr, name)(cr.tensor(a), *args, **kwargs),
                    getattr(cr.tensor(a), name)(*args, **kwargs)):  # fmt: skip
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
