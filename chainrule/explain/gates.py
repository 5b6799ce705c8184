"""An LSTM cell's gates as nodes: ``with cr.explain.gates(): loss = model(x)``.

``nn.LSTMCell`` computes its gates in one fused op (``ops.rnn.LSTMCell``), so the graph of a
step, and so the ledger, the picture and the page, shows one ``lstm_cell`` node where the texts
draw four gates. Inside ``gates()``, every ``nn.LSTMCell`` computes its step from primitives
instead, each gate a node named as the texts name it (i, f, g, o, c′, h′), and
``cr.explain(loss, modules=model)`` draws each gate in a box of its own inside the cell's box:

    z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh       (the cell's two linear ops, as before)
    i = σ(z[:, 0:H])   f = σ(z[:, H:2H])   g = tanh(z[:, 2H:3H])   o = σ(z[:, 3H:4H])
    c′ = f ⊙ c + i ⊙ g       h′ = o ⊙ tanh(c′)

The values are the fused op's, bit for bit: σ is computed as the fused op computes it,
(1 + tanh(x/2))/2, and the products and sums come in the same order. Gradients agree to
rounding (the fused op's hand-written VJP groups its products differently).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import xp
from chainrule.functional.linear import linear
from chainrule.ops.elementwise import Sigmoid
from chainrule.ops.rnn.common import sigmoid_into

_state = threading.local()
GATES = ("i", "f", "g", "o")


class GateSigmoid(Sigmoid):
    """σ computed as the fused LSTM op computes it, (1 + tanh(x/2))/2, so that the unfused
    cell's values equal the fused cell's; its derivative is σ's, y(1 − y)."""

    def forward(self, x):
        return sigmoid_into(x, xp.empty_like(x))


def gate_of(t: Tensor) -> tuple[object, str] | None:
    """(the cell, the gate's name) of a tensor made inside ``gates()``, else None."""
    return getattr(_state, "made", {}).get(id(t), (None, None))[1:] or None


def boxes_of(modules) -> dict[int, str]:
    """id(tensor) -> ``"<cell's path>.<gate>"`` for the tensors the cells of ``modules`` made
    inside ``gates()`` (kept alive there, so the ids are theirs)."""
    made = getattr(_state, "made", {})
    if not made or modules is None or not hasattr(modules, "named_modules"):
        return {}
    path = {id(m): name for name, m in modules.named_modules()}
    out = {}
    for k, (_, cell, gate) in made.items():
        if id(cell) in path:
            p = path[id(cell)]
            out[k] = ".".join(x for x in (p, gate) if x) or None  # gate None: the cell's box
            if out[k] is None:
                del out[k]
    return out


@contextlib.contextmanager
def gates() -> Iterator[None]:
    """Inside, ``nn.LSTMCell`` runs unfused: each gate a node (see the module's docstring). The
    tensors made are remembered until ``gates()`` is entered again."""
    from chainrule.nn.rnn.lstm import LSTMCell

    fused = LSTMCell.forward
    _state.made = {}
    LSTMCell.forward = _unfused_forward
    try:
        yield
    finally:
        LSTMCell.forward = fused


def _unfused_forward(self, input, hx=None):
    """``LSTMCell.forward`` from primitives: x (N, D) or (D,), hx = (h, c) → (h′, c′)."""
    x, (h, c), batched = self._inputs(input, hx, 2)
    H = self.hidden_size
    z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
    made: list[tuple[Tensor, str | None]] = [(z, None)]  # z = the gates' pre-activations
    acts = []
    for k, gate in enumerate(GATES):
        zk = z[:, k * H : (k + 1) * H]
        a = zk.tanh() if gate == "g" else apply(GateSigmoid(), zk)
        made += [(zk, f"gate_{gate}"), (a, f"gate_{gate}")]
        a.name = gate
        acts.append(a)
    i, f, g, o = acts
    fc, ig = f * c, i * g
    c2 = fc + ig
    tc = c2.tanh()
    h2 = o * tc
    c2.name, h2.name = "c′", "h′"
    made += [(fc, "cell_state"), (ig, "cell_state"), (c2, "cell_state")]
    made += [(tc, "hidden"), (h2, "hidden")]
    for t, gate in made:
        _state.made[id(t)] = (t, self, gate)  # the tensor too: its id stays its own
    if not batched:
        return h2.reshape((H,)), c2.reshape((H,))
    return h2, c2
