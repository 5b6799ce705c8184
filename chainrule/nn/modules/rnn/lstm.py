"""The LSTM layers: ``LSTMCell`` (one step) and ``LSTM`` (a sequence), gates (i, f, g, o)."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor, apply
from chainrule.functional.linear import linear
from chainrule.nn.modules.rnn.base import RNNBase, RNNCellBase, project_inputs
from chainrule.ops import rnn as _ops


class LSTMCell(RNNCellBase):
    """One LSTM step, with PyTorch's gate order (i, f, g, o):

        i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o),  z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
        c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')

    The gate arithmetic is one fused op (``ops.rnn.LSTMCell``) with a hand-written VJP.

    Args:
        input_size: D.  hidden_size: H.  bias: learn b_ih, b_hh.
    Shape:
        input (N, D) or (D,); hx = (h, c), each (N, H) or (H,), zeros when None
        → (h', c'), each (N, H) or (H,).
    Attributes:
        weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
    Example:
        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(cr.randn(3, 10))
        >>> h, c = cell(cr.randn(3, 10), (h, c))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._inputs(input, hx, 2)
        z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        y = apply(_ops.LSTMCell(), z, c)  # (2, N, H): [h', c']
        if not batched:
            y = y.reshape((2, self.hidden_size))
        return y[0], y[1]


class LSTM(RNNBase):
    """A multi-layer LSTM (gates i, f, g, o as in ``LSTMCell``); each layer's output sequence
    h_1..h_T is the next layer's input.

    Args:
        input_size: D.  hidden_size: H.  num_layers: L.  bias: learn b_ih, b_hh.
        batch_first: x is (N, T, D) when True (PyTorch's default is False: (T, N, D)).
        dropout: probability of zeroing each output of every layer but the last (training only).
        bidirectional: run a second LSTM over the reversed sequence and concatenate.
        proj_size: only 0 (LSTM with projections is not implemented).
    Shape:
        input (N, T, D) [batch_first] or (T, N, D), or (T, D) unbatched;
        hx = (h_0, c_0), each (L·dirs, N, H) (or (L·dirs, H)), zeros when None
        → output (N, T, dirs·H), (h_n, c_n) each (L·dirs, N, H).
    Attributes:
        weight_ih_l{k} (4H, D or dirs·H), weight_hh_l{k} (4H, H), bias_ih_l{k}, bias_hh_l{k}
        (4H,), and ``_reverse`` twins; all from U(-1/√H, 1/√H).
    Example:
        >>> lstm = LSTM(16, 32, num_layers=2)
        >>> out, (h, c) = lstm(cr.randn(4, 10, 16))
        >>> out.shape, h.shape
        ((4, 10, 32), (2, 4, 32))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        if proj_size != 0:
            raise ValueError(
                f"LSTM: proj_size={proj_size} is not supported (LSTM with projections is not "
                "implemented); use proj_size=0"
            )
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h_n, c_n) = self._run(input, hx, 2)
        return out, (h_n, c_n)

    def _layer(self, x, layer, direction, states):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        xg = project_inputs(x, w_ih, None if b_ih is None else b_ih + b_hh)
        T = x.shape[0]
        reverse = direction == 1
        y = apply(_ops.LSTMLayer(reverse), xg, states[0], states[1], w_hh)  # (T + 1, N, H)
        return y[:T], [y[0] if reverse else y[T - 1], y[T]]
