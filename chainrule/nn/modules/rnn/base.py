"""What the recurrent layers share: the input checks, ``RNNCellBase`` (one step) and ``RNNBase``
(parameters per layer and direction named as PyTorch's, the layer/direction loop, dropout between
layers)."""

from __future__ import annotations

import math
import numbers
import warnings

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.creation import as_tensor
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.dropout import dropout as _dropout
from chainrule.functional.linear import linear
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_size(layer: str, what: str, n) -> int:
    if not isinstance(n, (int, xp.integer)) or isinstance(n, bool):
        raise TypeError(f"{layer}: {what} should be an int, got {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"{layer}: {what} must be greater than zero, got {n}")
    return int(n)


def _check_dtype(layer: str, x: Tensor, w: Tensor) -> None:
    if x.dtype.kind != "f":
        hint = " (token ids go through an nn.Embedding first)" if x.dtype.kind in "iub" else ""
        raise TypeError(
            f"{layer}: expected a floating-point input, got {x.dtype}{hint}\n  at {user_line()}"
        )
    if x.dtype != w.dtype:
        raise TypeError(
            f"{layer}: input dtype {x.dtype} does not match weight dtype {w.dtype}; convert the "
            f"input (x.astype({w.dtype.name!r})) or the model (.to({x.dtype.name!r}))\n"
            f"  at {user_line()}"
        )


def _check_options(layer: str, bias, batch_first, bidirectional, dropout, num_layers) -> None:
    """Raises unless the flags are bools and dropout a probability; warns when dropout, applied
    between layers, cannot act."""
    for what, v in (
        ("bias", bias),
        ("batch_first", batch_first),
        ("bidirectional", bidirectional),
    ):
        if not isinstance(v, bool):
            raise TypeError(f"{layer}: {what} should be a bool, got {type(v).__name__}")
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not (0 <= dropout <= 1)
    ):
        raise ValueError(
            f"{layer}: dropout should be a number in [0, 1] (the probability of zeroing an "
            f"element), got {dropout!r}"
        )
    if dropout > 0 and num_layers == 1:
        # stacklevel 3: the frame that called RNNBase.__init__, not this helper.
        warnings.warn(
            f"{layer}: dropout is applied after every recurrent layer but the last, so "
            f"dropout={dropout} with num_layers=1 does nothing",
            stacklevel=3,
        )


def zeros_state(shape, dtype) -> Tensor:
    return constant(xp.zeros(shape, dtype=dtype))


class RNNCellBase(Module):
    """Parameters shared by the cells: weight_ih (G·H, D), weight_hh (G·H, H), bias_ih and bias_hh
    (G·H,), G = 1 (RNN), 3 (GRU) or 4 (LSTM), all drawn from U(-1/√H, 1/√H) as in PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dtype = get_default_dtype()
        g = num_chunks * self.hidden_size
        self.weight_ih = Parameter(xp.empty((g, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(xp.empty((g, self.hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(xp.empty(g, dtype=dtype))
            self.bias_hh = Parameter(xp.empty(g, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√H, 1/√H), PyTorch's rule."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _inputs(self, input, hx, n_states: int):
        """Validates (input, hx) and returns them batched: x (N, D) and the states (N, H) each
        (zeros when hx is None), plus whether the input was batched."""
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                f"got {x.shape}"
            )
        _check_dtype(name, x, self.weight_ih)
        batched = x.ndim == 2
        if not batched:
            x = x.reshape((1, self.input_size))
        n = x.shape[0]
        if hx is None:
            return x, [zeros_state((n, self.hidden_size), x.dtype)] * n_states, batched
        states = list(hx) if n_states > 1 else [hx]
        if n_states > 1 and len(states) != n_states:
            raise ValueError(f"{name}: hx must be a tuple (h, c), got {len(states)} tensors")
        want = (n, self.hidden_size) if batched else (self.hidden_size,)
        out = []
        for s in states:
            s = as_tensor(s)
            if s.shape != want:
                raise ShapeError(
                    f"{name}: expected hidden state of shape {want} for input {input.shape}, got "
                    f"{s.shape}"
                )
            out.append(s if batched else s.reshape((1, self.hidden_size)))
        return x, out, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters per layer and direction, named as PyTorch's
    (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._l0_reverse``,
    ``..._l1``), input checks, the layer/direction loop, dropout between layers."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        _check_options(name, bias, batch_first, bidirectional, dropout, num_layers)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            for direction in range(2 if bidirectional else 1):
                self._all_weights.append(self._add_parameters(layer, direction))
        self.reset_parameters()

    def _add_parameters(self, layer: int, direction: int) -> list[str]:
        """Registers one layer and direction's parameters (uninitialised); returns their names."""
        g = _GATES[self.mode] * self.hidden_size
        d_in = (
            self.input_size if layer == 0 else self.hidden_size * (2 if self.bidirectional else 1)
        )
        dtype = get_default_dtype()
        suffix = "_reverse" if direction == 1 else ""
        names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
        setattr(self, names[0], Parameter(xp.empty((g, d_in), dtype=dtype)))
        setattr(self, names[1], Parameter(xp.empty((g, self.hidden_size), dtype=dtype)))
        if self.bias:
            names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
            setattr(self, names[2], Parameter(xp.empty(g, dtype=dtype)))
            setattr(self, names[3], Parameter(xp.empty(g, dtype=dtype)))
        return names

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√H, 1/√H), PyTorch's rule."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction: [[w_ih, w_hh, b_ih, b_hh], ...]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Does nothing: kept so that code written for PyTorch's cuDNN path runs unchanged."""

    def _weights(self, layer: int, direction: int):
        names = self._all_weights[layer * (2 if self.bidirectional else 1) + direction]
        w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
        if self.bias:
            return w_ih, w_hh, getattr(self, names[2]), getattr(self, names[3])
        return w_ih, w_hh, None, None

    def _prepare(self, input, hx, n_states: int):
        """Validates the input and states. Returns x time-major (T, N, D), the initial states as
        (L·dirs, N, H) Tensors (or None), and whether the input was batched."""
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"{name}: expected input of shape (N, T, D) (batch_first={self.batch_first}) or "
                f"(T, D) unbatched, got {x.ndim}-D input {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{name}: input has {x.shape[-1]} features but input_size is {self.input_size}. "
                f"Expect: x.shape[-1] == {self.input_size}  Actual: {x.shape[-1]}"
            )
        _check_dtype(name, x, self.weight_ih_l0)
        batched = x.ndim == 3
        if not batched:
            x = x.reshape((x.shape[0], 1, x.shape[1]))  # (T, 1, D)
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        T, N = x.shape[0], x.shape[1]
        if T == 0:
            raise ShapeError(f"{name}: the input sequence is empty (T = 0)")
        k = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            return x, [None] * n_states, batched
        states = list(hx) if n_states > 1 else [hx]
        if n_states > 1 and len(states) != n_states:
            raise ValueError(f"{name}: hx must be a tuple (h_0, c_0), got {len(states)} tensors")
        want = (k, N, self.hidden_size) if batched else (k, self.hidden_size)
        out = []
        for s in states:
            s = as_tensor(s)
            if s.shape != want:
                raise ShapeError(
                    f"{name}: expected initial state of shape {want} (num_layers·directions, "
                    f"N, H) for input {input.shape}, got {s.shape}"
                )
            out.append(s if batched else s.reshape((k, 1, self.hidden_size)))
        return x, out, batched

    def _run(self, input, hx, n_states: int):
        """The layer/direction loop. Returns the output (batch layout as given) and the list of
        final-state Tensors, each (L·dirs, N, H) (or unbatched)."""
        x, states, batched = self._prepare(input, hx, n_states)
        T, N = x.shape[0], x.shape[1]
        dirs = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in range(n_states)]
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(dirs):
                k = layer * dirs + direction
                init_states = [
                    zeros_state((N, self.hidden_size), x.dtype) if s is None else s[k]
                    for s in states
                ]
                seq, last = self._layer(inp, layer, direction, init_states)
                outs.append(seq)
                for f, t in zip(finals, last):
                    f.append(t)
            inp = outs[0] if dirs == 1 else _fn.cat(outs, axis=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                inp = _dropout(inp, self.dropout, True)
        out = inp  # (T, N, dirs·H)
        finals_t = [_fn.stack(f, axis=0) for f in finals]  # each (L·dirs, N, H)
        if not batched:
            out = out.reshape((T, out.shape[-1]))
            finals_t = [f.reshape((f.shape[0], self.hidden_size)) for f in finals_t]
        elif self.batch_first:
            out = out.swapaxes(0, 1)
        return out, finals_t

    def _layer(self, x, layer: int, direction: int, states: list[Tensor]):
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        # PyTorch's RNNBase repr leaves nonlinearity out, even for RNN(..., nonlinearity="relu")
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def project_inputs(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """x (T, N, D) → x Wᵀ + b (T, N, G) as one (T·N, D) GEMM."""
    return linear(x, w, b)
