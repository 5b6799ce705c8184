"""The Elman recurrent layers: ``RNNCell`` (one step) and ``RNN`` (a sequence), tanh or relu."""

from __future__ import annotations

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.tensor import Tensor, apply
from chainrule.functional.linear import linear
from chainrule.nn.modules.rnn.base import RNNBase, RNNCellBase, project_inputs
from chainrule.ops import rnn as _ops


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

    Args:
        input_size: D, features of x.  hidden_size: H.  bias: learn b_ih, b_hh.
        nonlinearity: 'tanh' or 'relu'.
    Shape:
        input (N, D) or (D,), hx (N, H) or (H,) (zeros when None) → h' (N, H) or (H,).
    Attributes:
        weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, num_chunks=1)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._inputs(input, hx, 1)
        a = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        h = _fn.tanh(a) if self.nonlinearity == "tanh" else _fn.relu(a)
        return h if batched else h.reshape((self.hidden_size,))


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) per layer,
    act = tanh or relu; each layer's output sequence is the next layer's input.

    Args:
        input_size: D.  hidden_size: H.  num_layers: L stacked layers.
        nonlinearity: 'tanh' or 'relu'.  bias: learn b_ih, b_hh.
        batch_first: x is (N, T, D) when True (PyTorch's default is False: (T, N, D)), else
            (T, N, D).
        dropout: probability of zeroing each output of every layer but the last (training only).
        bidirectional: run a second layer over the reversed sequence and concatenate.
    Shape:
        input (N, T, D) [batch_first] or (T, N, D), or (T, D) unbatched;
        hx (L·dirs, N, H) (or (L·dirs, H)), zeros when None
        → output (N, T, dirs·H) [or (T, N, dirs·H), (T, dirs·H)], h_n (L·dirs, N, H).
    Attributes:
        weight_ih_l{k} (H, D or dirs·H), weight_hh_l{k} (H, H), bias_ih_l{k}, bias_hh_l{k} (H,),
        and the same with ``_reverse`` for the second direction; all from U(-1/√H, 1/√H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(input, hx, 1)
        return out, h_n

    def _layer(self, x, layer, direction, states):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        xg = project_inputs(x, w_ih, None if b_ih is None else b_ih + b_hh)
        reverse = direction == 1
        y = apply(_ops.RNNLayer(self.nonlinearity, reverse), xg, states[0], w_hh)
        return y, [y[0] if reverse else y[-1]]
