"""PyTorch's checks in the autograd core (issue 27): where PyTorch refuses, chainrule refuses
with the same kind of exception and PyTorch's words (chainrule's hint and the user's line
follow them). Each case runs the same program on chainrule and on torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _outcome(program, lib):
    try:
        program(lib)
    except Exception as e:  # the kind and the words are compared below
        return e
    return None


def _first_sentence(msg: str) -> str:
    return msg.split("\n")[0].split(". ")[0]


def _same_refusal(program, words: bool = True):
    """``program(lib)`` raises the same kind of exception on both, and chainrule's message holds
    the first sentence of torch's."""
    theirs, ours = _outcome(program, torch), _outcome(program, cr)
    assert theirs is not None, "torch accepts this program"
    assert ours is not None, f"chainrule accepts what torch refuses with: {theirs}"
    assert type(ours) is type(theirs), (type(ours), type(theirs), str(ours))
    if words:
        assert _first_sentence(str(theirs)) in str(ours), (str(theirs), str(ours))
    return ours


def _nonleaf(lib):
    return lib.ones(3, requires_grad=True) * 2


def _set(t, name, value):
    setattr(t, name, value)


REFUSED = {
    # requires_grad
    "nonleaf_requires_grad_false": lambda lib: _set(_nonleaf(lib), "requires_grad", False),
    "nonleaf_requires_grad_true": lambda lib: _set(_nonleaf(lib), "requires_grad", True),
    "nonleaf_requires_grad_(False)": lambda lib: _nonleaf(lib).requires_grad_(False),
    "int_requires_grad_attr": lambda lib: _set(lib.tensor([1, 2]), "requires_grad", True),
    "int_requires_grad_()": lambda lib: lib.tensor([1, 2]).requires_grad_(),
    "bool_requires_grad_()": lambda lib: lib.tensor([True]).requires_grad_(True),
    "int_tensor_requires_grad": lambda lib: lib.tensor([1, 2], requires_grad=True),
    "int_zeros_requires_grad": lambda lib: lib.zeros(2, dtype=lib.int64, requires_grad=True),
    "int_parameter": lambda lib: lib.nn.Parameter(lib.tensor([1, 2])),
    "requires_grad_not_bool": lambda lib: _set(lib.ones(2), "requires_grad", 1),
    # .grad =
    "grad_float64_on_float32": lambda lib: _set(lib.zeros(3), "grad", lib.zeros(3).double()),
    "grad_int64_on_float32": lambda lib: _set(lib.zeros(3), "grad", lib.zeros(3).long()),
    "grad_float32_on_float64": lambda lib: _set(lib.zeros(3).double(), "grad", lib.zeros(3)),
    "grad_shape": lambda lib: _set(lib.zeros(3), "grad", lib.zeros(2)),
    "grad_not_a_tensor": lambda lib: _set(lib.zeros(3), "grad", 3.0),
    # matrix products of two dtypes
    "matmul_2d": lambda lib: lib.ones(2, 3) @ lib.ones(3, 2).double(),
    "matmul_2d_f64_f32": lambda lib: lib.ones(2, 3).double() @ lib.ones(3, 2),
    "matmul_int": lambda lib: lib.ones(2, 3) @ lib.ones(3, 2).long(),
    "matmul_1d_1d": lambda lib: lib.ones(3) @ lib.ones(3).double(),
    "matmul_2d_1d": lambda lib: lib.ones(2, 3) @ lib.ones(3).double(),
    "matmul_1d_2d": lambda lib: lib.ones(3) @ lib.ones(3, 2).double(),
    "matmul_3d_2d": lambda lib: lib.ones(2, 2, 3) @ lib.ones(3, 2).double(),
    "matmul_3d_3d": lambda lib: lib.ones(2, 2, 3) @ lib.ones(2, 3, 2).double(),
    "matmul_fn": lambda lib: lib.matmul(lib.ones(2, 3), lib.ones(3, 2).double()),
    "matmul_method": lambda lib: lib.ones(2, 3).matmul(lib.ones(3, 2).double()),
    "rmatmul": lambda lib: lib.ones(2, 3).double().__rmatmul__(lib.ones(4, 2)),
    "mm": lambda lib: lib.mm(lib.ones(2, 3), lib.ones(3, 2).double()),
    "bmm": lambda lib: lib.bmm(lib.ones(1, 2, 3).double(), lib.ones(1, 3, 2)),
    "dot_dtype": lambda lib: lib.dot(lib.ones(3), lib.ones(3).double()),
    "linear_no_bias": lambda lib: lib.nn.functional.linear(lib.ones(2, 3).double(), lib.ones(4, 3)),
    "linear_bias": lambda lib: lib.nn.functional.linear(
        lib.ones(2, 3).double(), lib.ones(4, 3), lib.ones(4)),
    "linear_bias_dtype": lambda lib: lib.nn.functional.linear(
        lib.ones(2, 3), lib.ones(4, 3), lib.ones(4).double()),
    "Linear_module_float64_input": lambda lib: lib.nn.Linear(3, 4)(lib.ones(5, 2, 3).double()),
    # dot's shapes
    "dot_2d": lambda lib: lib.dot(lib.ones(2, 2), lib.ones(2)),
    "dot_sizes": lambda lib: lib.dot(lib.ones(3), lib.ones(2)),
    # indices out of range: NumPy would wrap -1
    "gather_minus_1": lambda lib: lib.arange(6.0).reshape(2, 3).gather(
        1, lib.tensor([[-1, 0], [0, 1]])),
    "gather_dim0_minus_1": lambda lib: lib.arange(6.0).reshape(2, 3).gather(
        0, lib.tensor([[-1, 0, 0]])),
    "gather_past_end": lambda lib: lib.gather(lib.arange(6.0).reshape(2, 3), 1,
                                              lib.tensor([[3, 0]])),
    "gather_float_index": lambda lib: lib.arange(6.0).reshape(2, 3).gather(
        1, lib.tensor([[0.0, 1.0]])),
    "index_select_2d_dim1_minus_1": lambda lib: lib.index_select(
        lib.arange(6.0).reshape(2, 3), 1, lib.tensor([-1])),
    "index_select_3d_dim0_minus_1": lambda lib: lib.zeros(2, 3, 4).index_select(
        0, lib.tensor([-1])),
    "index_select_3d_dim1_past_end": lambda lib: lib.zeros(2, 3, 4).index_select(
        1, lib.tensor([0, 9])),
    "index_select_3d_dim2_minus_1": lambda lib: lib.zeros(2, 3, 4).index_select(
        2, lib.tensor([-1])),
    "index_select_1d_minus_2": lambda lib: lib.arange(3.0).index_select(0, lib.tensor([0, -2])),
    "index_select_float_index": lambda lib: lib.zeros(2, 3).index_select(
        1, lib.tensor([0.0])),
    "scatter_minus_1": lambda lib: lib.zeros(2, 3).scatter(1, lib.tensor([[-1], [0]]), 1.0),
    "scatter_add_past_end": lambda lib: lib.zeros(2, 3).scatter_add(
        1, lib.tensor([[3], [0]]), lib.ones(2, 1)),
    # arange
    "arange_step_0": lambda lib: lib.arange(0, 1, 0),
    "arange_float_step_0": lambda lib: lib.arange(0.0, 1.0, 0.0),
    "arange_against_step": lambda lib: lib.arange(0, -1),
    "arange_negative_end": lambda lib: lib.arange(-3),
    "arange_down_with_positive_step": lambda lib: lib.arange(1, 0, 0.5),
    "arange_nan": lambda lib: lib.arange(0, float("nan")),
    "arange_inf": lambda lib: lib.arange(0, float("inf")),
    # in-place shape methods
    "unsqueeze__on_a_leaf_requiring_grad": lambda lib: lib.ones(3, requires_grad=True).unsqueeze_(0),
    "t__3d": lambda lib: lib.zeros(2, 2, 2).t_(),
    "resize__requires_grad": lambda lib: lib.zeros(3, requires_grad=True).resize_(2),
    "resize__non_leaf": lambda lib: _nonleaf(lib).resize_(2),
}  # fmt: skip

# Refusals whose wording comes from PyTorch's argument parser: the kind alone is compared.
KIND_ONLY = {
    "add__alpha_positional": lambda lib: lib.zeros(3).add_(lib.ones(3), 2),
    "add__alpha_twice": lambda lib: lib.zeros(3).add_(2, lib.ones(3), alpha=3),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_as_torch_refuses(name):
    _same_refusal(REFUSED[name])


@pytest.mark.parametrize("name", list(KIND_ONLY))
def test_refused_with_torchs_kind_of_exception(name):
    _same_refusal(KIND_ONLY[name], words=False)


def test_resize_of_a_tensor_requiring_grad_is_refused_even_under_no_grad():
    def program(lib):
        with lib.no_grad():
            lib.zeros(3, requires_grad=True).resize_(2)

    _same_refusal(program)


def test_the_refusal_names_the_users_line():
    y = cr.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf variables") as info:
        y.requires_grad = False
    assert "test_torch_checks.py" in str(info.value)


ACCEPTED = {
    "leaf_requires_grad_false": lambda lib: _set(lib.ones(2, requires_grad=True), "requires_grad", False),
    "int_requires_grad_(False)": lambda lib: lib.tensor([1, 2]).requires_grad_(False),
    "int_requires_grad_attr_false": lambda lib: _set(lib.tensor([1, 2]), "requires_grad", False),
    "nonleaf_requires_grad_(True)": lambda lib: _nonleaf(lib).requires_grad_(True),
    "grad_none": lambda lib: _set(lib.zeros(3, requires_grad=True), "grad", None),
    "grad_same_dtype": lambda lib: _set(lib.zeros(3).double(), "grad", lib.ones(3).double()),
    "int_matmul": lambda lib: lib.ones(2, 2).long() @ lib.ones(2, 2).long(),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted_as_torch_accepts(name):
    assert _outcome(ACCEPTED[name], torch) is None
    assert _outcome(ACCEPTED[name], cr) is None


@pytest.mark.parametrize(
    "args", [(1, 0, -0.5), (0,), (1, 1), (5,), (0, 2, 0.5), (3, -3, -2)], ids=str
)
def test_arange_values_match_torch(args):
    ours, theirs = cr.arange(*args), torch.arange(*args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert ours.shape == tuple(theirs.shape)


def test_a_non_leaf_flag_no_longer_cuts_the_graph():
    # Before: y.requires_grad = False cut the graph and x.grad was 2 where the program meant 4.
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError):
        y.requires_grad = False
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 4.0])


# ----- autograd.Function: what backward returns, checked as PyTorch's validate_outputs -----
def _function_program(grads, x_shape=(3,), x_dtype="float64", extra=()):
    """A program for ``lib``: Scale.apply(x, *extra).sum().backward() where Scale.backward
    returns ``grads(lib, g)``; gives x.grad."""

    def program(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, *rest):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return grads(lib, g)

        x = lib.ones(*x_shape, dtype=getattr(lib, x_dtype), requires_grad=True)
        args = [e(lib) if callable(e) else e for e in extra]
        Scale.apply(x, *args).sum().backward()
        return x.grad

    return program


def _f64(lib, *shape):
    return lib.ones(*shape, dtype=lib.float64)


FUNCTION_REFUSED = {
    "extra_gradient": _function_program(lambda lib, g: (g, g)),
    "too_few": _function_program(lambda lib, g: g, extra=(lambda lib: lib.ones(3),)),
    "too_few_non_tensor_arg": _function_program(lambda lib, g: g, extra=(5,)),
    "shape_1_for_3": _function_program(lambda lib, g: _f64(lib, 1)),
    "shape_2_for_3": _function_program(lambda lib, g: _f64(lib, 2)),
    "shape_0d_for_3": _function_program(lambda lib, g: lib.tensor(1.0, dtype=lib.float64)),
    "shape_3_for_2x3": _function_program(lambda lib, g: _f64(lib, 3), x_shape=(2, 3)),
    "shape_1x3_for_2x3": _function_program(lambda lib, g: _f64(lib, 1, 3), x_shape=(2, 3)),
    "not_a_tensor": _function_program(lambda lib, g: 3.0),
    "a_list": _function_program(lambda lib, g: [g]),
    "gradient_for_a_number": _function_program(lambda lib, g: (g, lib.ones(1)), extra=(5,)),
}

FUNCTION_ACCEPTED = {
    "exact": _function_program(lambda lib, g: g * 3),
    "trailing_none": _function_program(lambda lib, g: (g * 3, None)),
    "two_trailing_nones": _function_program(lambda lib, g: (g * 3, None, None)),
    "broadcast_1x3_for_3": _function_program(lambda lib, g: g.reshape(1, 3) * 3),
    "broadcast_2x3_for_3": _function_program(lambda lib, g: g.expand(2, 3) * 3),
    "float32_for_float64": _function_program(lambda lib, g: g.float() * 3),
    "float64_for_float32": _function_program(lambda lib, g: g.double() * 3, x_dtype="float32"),
    "int64_for_float32": _function_program(lambda lib, g: g.long() * 3, x_dtype="float32"),
    "ignored_for_a_tensor_needing_none": _function_program(
        lambda lib, g: (g * 3, lib.ones(7)), extra=(lambda lib: lib.ones(3),)
    ),
}


@pytest.mark.parametrize("name", list(FUNCTION_REFUSED))
def test_function_gradients_refused_as_torch_refuses(name):
    _same_refusal(FUNCTION_REFUSED[name])


@pytest.mark.parametrize("name", list(FUNCTION_ACCEPTED))
def test_function_gradients_accepted_as_torch_accepts(name):
    theirs, ours = FUNCTION_ACCEPTED[name](torch), FUNCTION_ACCEPTED[name](cr)
    assert ours.dtype == {torch.float32: cr.float32, torch.float64: cr.float64}[theirs.dtype]
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
