"""Activation layers: each wraps the function of the same name in ``cr.nn.functional``.

``MultiheadAttention`` is defined in ``attention.py`` and importable from here too, because
``torch.nn.modules.activation`` is where PyTorch keeps it."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional import activation as F
from chainrule.nn.modules.attention import MultiheadAttention  # noqa: F401 (PyTorch's path)
from chainrule.nn.modules.module import Module


class _Inplace(Module):
    """An activation with PyTorch's ``inplace`` flag: when set, ``forward`` overwrites its input
    and returns it (see ``chainrule.functional.activation``)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""  # PyTorch's: ReLU(), ReLU(inplace=True)


def _inplace(m: _Inplace) -> str:
    return ", inplace=True" if m.inplace else ""


class ReLU(_Inplace):
    """max(x, 0) elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x, self.inplace)


class LeakyReLU(_Inplace):
    """x where x > 0, else ``negative_slope`` · x. Shape: any → the same."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace(self)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^-x) elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh x elementwise. Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softmax(Module):
    """e^x / Σ e^x along ``dim`` (each slice sums to 1). Shape: any → the same.

    ``dim=None`` follows PyTorch's legacy rule (see ``F.softmax``); give it explicitly, e.g.
    ``Softmax(dim=1)`` for (N, C) scores.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log softmax(x) along ``dim``, computed stably. Shape: any → the same."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """x Φ(x) elementwise (``approximate="tanh"`` for the tanh form). Shape: any → the same."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Inplace):
    """x σ(x) elementwise (swish). Shape: any → the same."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x, self.inplace)


class ELU(_Inplace):
    """x where x > 0, else α (e^x - 1). Shape: any → the same."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self)


class Softplus(Module):
    """log(1 + e^(βx)) / β (x where βx > threshold). Shape: any → the same."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
