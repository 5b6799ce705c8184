"""The GRU layers: ``GRUCell`` (one step) and ``GRU`` (a sequence), gates (r, z, n)."""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor, apply
from chainrule.functional.linear import linear
from chainrule.nn.modules.rnn.base import RNNBase, RNNCellBase, project_inputs, zeros_state
from chainrule.ops import rnn as _ops


class GRUCell(RNNCellBase):
    """One GRU step, with PyTorch's gate order (r, z, n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)     z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))     h' = (1 - z) ⊙ n + z ⊙ h

    Args:
        input_size: D.  hidden_size: H.  bias: learn b_ih, b_hh.
    Shape:
        input (N, D) or (D,), hx (N, H) or (H,) (zeros when None) → h' (N, H) or (H,).
    Attributes:
        weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,).
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), batched = self._inputs(input, hx, 1)
        xg = linear(x, self.weight_ih, self.bias_ih)
        hg = linear(h, self.weight_hh, self.bias_hh)
        h = apply(_ops.GRUCell(), xg, hg, h)
        return h if batched else h.reshape((self.hidden_size,))


class GRU(RNNBase):
    """A multi-layer GRU (gates r, z, n as in ``GRUCell``); each layer's output sequence is the
    next layer's input.

    Args:
        input_size: D.  hidden_size: H.  num_layers: L.  bias: learn b_ih, b_hh.
        batch_first: x is (N, T, D) when True (PyTorch's default is False: (T, N, D)).
        dropout: probability of zeroing each output of every layer but the last (training only).
        bidirectional: run a second GRU over the reversed sequence and concatenate.
    Shape:
        input (N, T, D) [batch_first] or (T, N, D), or (T, D) unbatched;
        hx (L·dirs, N, H) (or (L·dirs, H)), zeros when None
        → output (N, T, dirs·H), h_n (L·dirs, N, H).
    Attributes:
        weight_ih_l{k} (3H, D or dirs·H), weight_hh_l{k} (3H, H), bias_ih_l{k}, bias_hh_l{k}
        (3H,), and ``_reverse`` twins; all from U(-1/√H, 1/√H).
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
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(input, hx, 1)
        return out, h_n

    def _layer(self, x, layer, direction, states):
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
        xg = project_inputs(x, w_ih, b_ih)
        if b_hh is None:
            b_hh = zeros_state((w_hh.shape[0],), w_hh.dtype)
        reverse = direction == 1
        y = apply(_ops.GRULayer(reverse), xg, states[0], w_hh, b_hh)
        return y, [y[0] if reverse else y[-1]]
