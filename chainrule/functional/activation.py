"""Activation functions with PyTorch's signatures (``dim=``), built on the primitive ops."""

from __future__ import annotations

import math

from chainrule.autograd import reductions as _reductions
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.inplace import rewrite
from chainrule.autograd.pointwise import sigmoid, tanh  # noqa: F401 (F.sigmoid is cr.sigmoid)
from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import xp
from chainrule.errors import warn_user
from chainrule.ops.activation import Elu, LeakyRelu, Silu, Softplus
from chainrule.ops.special import Erf, Gelu

# ``inplace=True`` overwrites the input and returns it, as PyTorch: recorded by autograd (the
# gradient flows to x's previous history), refused on a leaf that requires grad, and a later
# backward through an op that saved the overwritten x fails with PyTorch's version error.


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise; the gradient is 1 where x > 0, else 0. Any shape.

    ``inplace=True``: x is overwritten (``x.relu_()``) and returned."""
    if inplace:
        return input.relu_()
    return _fn.relu(input)


def relu_(input: Tensor) -> Tensor:
    """``relu(input, inplace=True)``: max(x, 0) written into x, which is returned."""
    return input.relu_()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope`` · x; the gradient is 1 or ``negative_slope``.

    ``inplace=True``: the result is written into x, which is returned."""
    x = as_tensor(input)
    if inplace:
        return rewrite(x, "leaky_relu_", lambda t: leaky_relu(t, negative_slope))
    return apply(LeakyRelu(negative_slope), x)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu(input, negative_slope, inplace=True)``."""
    return leaky_relu(input, negative_slope, inplace=True)


def erf(input: Tensor) -> Tensor:
    """The error function 2/√π ∫₀ˣ e^(-t²) dt elementwise; d/dx = 2/√π e^(-x²). Any shape."""
    return apply(Erf(), as_tensor(input))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x) = x · (1 + erf(x / √2)) / 2 elementwise (Hendrycks & Gimpel).

    ``approximate="tanh"``: x · (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2, as PyTorch's. Any shape.
    """
    x = as_tensor(input)
    if approximate == "none":
        return apply(Gelu(), x)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * (_fn.tanh(inner) + 1) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU (swish): x σ(x) elementwise. Any shape.

    ``inplace=True``: the result is written into x, which is returned (its backward reads x,
    so x is copied first, as PyTorch's ``silu_`` keeps the original)."""
    x = as_tensor(input)
    if inplace:
        return rewrite(x, "silu_", lambda t: silu(t.clone()))
    return apply(Silu(), x)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu(input, alpha, inplace=True)``."""
    return elu(input, alpha, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else α (e^x - 1) elementwise. Any shape.

    ``inplace=True``: the result is written into x, which is returned."""
    x = as_tensor(input)
    if inplace:
        return rewrite(x, "elu_", lambda t: elu(t, alpha))
    return apply(Elu(alpha), x)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx)) / β elementwise, and x itself where βx > ``threshold`` (as PyTorch, for
    stability). Any shape."""
    return apply(Softplus(beta, threshold), as_tensor(input))


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``cr.softmax(input, dim, dtype)``: e^x / Σ e^x along ``dim``. Any shape.

    ``dim=None`` picks PyTorch's legacy implicit dim, with its deprecation warning: 0 for 0-, 1-
    and 3-dimensional input, else 1 (so (N, C) and (N, C, H, W) are normalised over C). Pass
    ``dim`` to be explicit. ``_stacklevel`` is accepted for PyTorch's signature (the warning
    points at the user's line whatever it is).
    """
    return _reductions.softmax(input, _implicit_dim("softmax", input, dim), dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``cr.log_softmax(input, dim, dtype)``: x - log Σ e^x along ``dim``, without overflow or
    log 0. ``dim=None`` picks the same legacy default as ``softmax``, with the same warning."""
    return _reductions.log_softmax(input, _implicit_dim("log_softmax", input, dim), dtype)


def _implicit_dim(name: str, x, dim: int | None) -> int:
    """``dim`` itself, or PyTorch's legacy choice (``F._get_softmax_dim``) with its warning."""
    if dim is not None:
        return dim
    warn_user(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument."
    )
    return 0 if xp.ndim(x._data if isinstance(x, Tensor) else x) in (0, 1, 3) else 1
