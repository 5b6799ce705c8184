"""PyTorch's checks on what a user may set on a tensor: ``requires_grad`` (leaves of a floating
dtype only) and ``.grad`` (a Tensor of the tensor's shape and dtype).

Each refusal is PyTorch's kind of exception (``RuntimeError``) and starts with PyTorch's words, so
that a program that catches or matches them behaves the same; chainrule's hint and the user's line
follow.
"""

from __future__ import annotations

from chainrule.backend import kind, xp
from chainrule.errors import user_line

# PyTorch's names of dtypes in its messages: the C++ type ("dtype 'double'") and the ScalarType
# ("grad_dtype 'Double'").
_CPP_NAMES = {
    "float32": ("float", "Float"),
    "float64": ("double", "Double"),
    "float16": ("c10::Half", "Half"),
    "bfloat16": ("c10::BFloat16", "BFloat16"),
    "int64": ("long int", "Long"),
    "int32": ("int", "Int"),
    "int16": ("short int", "Short"),
    "int8": ("signed char", "Char"),
    "uint8": ("unsigned char", "Byte"),
    "bool": ("bool", "Bool"),
    "complex64": ("c10::complex<float>", "ComplexFloat"),
    "complex128": ("c10::complex<double>", "ComplexDouble"),
}


def cpp_name(dtype) -> str:
    """The C++ type PyTorch names ``dtype`` by in its messages (``float``, ``long int``)."""
    return _CPP_NAMES.get(xp.dtype(dtype).name, (str(dtype),))[0]


def scalar_type(dtype) -> str:
    """PyTorch's ScalarType name of ``dtype`` (``Float``, ``Double``, ``Long``)."""
    name = xp.dtype(dtype).name
    return _CPP_NAMES[name][1] if name in _CPP_NAMES else name


def check_requires_grad(t, value, how: str) -> None:
    """Raises as PyTorch does when ``t``'s ``requires_grad`` may not become ``value``.

    ``how`` is the way it was asked: ``"attribute"`` (``t.requires_grad = v``), ``"method"``
    (``t.requires_grad_(v)``) or ``"creation"`` (``requires_grad=`` of a constructor); PyTorch's
    three messages differ slightly and are kept as they are.
    """
    if how == "attribute" and not isinstance(value, bool):
        raise RuntimeError(f"requires_grad must be a bool\n  at {user_line()}")
    if t._node is not None and (how == "attribute" or not value):
        hint = (
            " If you want to use a computed variable in a subgraph that doesn't require "
            "differentiation use var_no_grad = var.detach()."
            if not value
            else ""
        )
        raise RuntimeError(
            f"you can only change requires_grad flags of leaf variables.{hint}\n  at {user_line()}"
        )
    if value and kind(t._data.dtype) not in "fc":
        which = {
            "method": "only Tensors of floating point dtype",
            "attribute": "only Tensors of floating point and complex dtype",
            "creation": "Only Tensors of floating point and complex dtype",
        }[how]
        raise RuntimeError(
            f"{which} can require gradients (this one is {t._data.dtype}; convert it first, "
            f"e.g. t.float())\n  at {user_line()}"
        )


def check_grad(t, value) -> None:
    """Raises as PyTorch does when ``value`` cannot be assigned to ``t.grad``: not a Tensor, or
    not of ``t``'s shape and dtype."""
    from chainrule.autograd.tensor import Tensor

    if not isinstance(value, Tensor):
        raise TypeError(
            "assigned grad expected to be a Tensor or None but got grad of type "
            f"{type(value).__name__}\n  at {user_line()}"
        )
    if value._data.shape != t._data.shape:
        raise RuntimeError(
            f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor of size "
            f"'{list(t.shape)}'. Please ensure that the gradient and the tensor are the same size "
            f"(assigned grad has shape {tuple(value.shape)}, but the tensor has shape "
            f"{tuple(t.shape)})\n  at {user_line()}"
        )
    if value._data.dtype != t._data.dtype:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{cpp_name(value.dtype)}' to a tensor "
            f"with grad_dtype '{scalar_type(t.dtype)}'. The gradient must match the tensor's "
            f"grad_dtype (defaults to the tensor's dtype).\n  at {user_line()}"
        )
