"""Parameter initialisation, in place, with PyTorch's names and rules (``cr.nn.init``).

Every function overwrites the tensor's values in place (no graph is recorded), draws from the library's
generator so that ``cr.manual_seed`` makes it repeatable, and returns the tensor.

Fan-in and fan-out of a weight of shape (out, in, *kernel) are ``in * prod(kernel)`` and
``out * prod(kernel)``: (D_out, D_in) for Linear, (C_out, C_in, kh, kw) for Conv2d.
"""

from __future__ import annotations

import math

from chainrule import random as _random
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity`` (PyTorch's table):
    1 for linear, conv and sigmoid; 5/3 for tanh; √2 for relu; √(2 / (1 + a²)) for leaky_relu
    with negative slope a (default 0.01); 3/4 for selu."""
    if nonlinearity == "leaky_relu":
        if param is None:
            a = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            a = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; known: "
            f"{', '.join(sorted([*_GAINS, 'leaky_relu']))}"
        )
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out cannot be computed for a tensor of fewer than 2 dimensions "
            f"(got shape {shape})"
        )
    receptive = int(xp.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values) -> Tensor:
    tensor._data[...] = values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fills ``tensor`` with draws from U(a, b)."""
    return _fill(tensor, _random.generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fills ``tensor`` with draws from N(mean, std²)."""
    return _fill(tensor, _random.generator().normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fills ``tensor`` with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fills ``tensor`` with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fills ``tensor`` with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(-b, b) with b = gain · √(3 / fan), gain = ``calculate_gain(nonlinearity, a)``.

    ``a`` is the negative slope of a leaky ReLU; ``mode`` picks fan_in (preserves the forward
    variance) or fan_out (the backward one). ``Linear`` and ``Conv2d`` initialise their weight
    with a = √5, which gives U(-1/√fan_in, 1/√fan_in).
    """
    if tensor._data.size == 0:
        return tensor  # nothing to fill (and a fan of 0)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: N(0, std²) with std = gain / √fan (arguments as ``kaiming_uniform_``)."""
    if tensor._data.size == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)
