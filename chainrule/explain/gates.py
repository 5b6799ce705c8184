"""An LSTM's gates as nodes: ``with cr.explain.gates(): loss = model(x)``.

``nn.LSTMCell`` computes its gates in one fused op (``ops.rnn.LSTMCell``), so the graph of a
step, and so the ledger, the picture and the page, shows one ``lstm_cell`` node where the texts
draw four gates. Inside ``gates()``, every ``nn.LSTMCell`` computes its step from primitives
instead, each gate a node named as the texts name it (i, f, g, o, c′, h′), and
``cr.explain(loss, modules=model)`` draws each gate in a box of its own inside the cell's box:

    z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh       (the cell's two linear ops, as before)
    i = σ(z[:, 0:H])   f = σ(z[:, H:2H])   g = tanh(z[:, 2H:3H])   o = σ(z[:, 3H:4H])
    c′ = f ⊙ c + i ⊙ g       h′ = o ⊙ tanh(c′)

``nn.LSTM`` is run step by step the same way (its fused ``LSTMLayer`` replaced by one such
step per time step). The values are the fused ops', bit for bit: σ is computed as the fused
op computes it, (1 + tanh(x/2))/2, and the products and sums come in the same order. Gradients agree to
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
    for k, (_, cell, where) in made.items():
        box = ".".join(x for x in (path.get(id(cell)), where) if x)  # where None: the cell's box
        if id(cell) in path and box:
            out[k] = box
    return out


@contextlib.contextmanager
def gates() -> Iterator[None]:
    """Inside, ``nn.LSTMCell`` and ``nn.LSTM`` run unfused: each gate a node (see the module's
    docstring; an LSTM's steps are boxed per layer, direction and time step,
    ``lstm.l0.t2.gate_i``). The tensors made are remembered until ``gates()`` is entered
    again."""
    from chainrule.nn.modules.rnn.lstm import LSTM, LSTMCell

    fused = LSTMCell.forward, LSTM._layer
    _state.made = {}
    LSTMCell.forward, LSTM._layer = _unfused_forward, _unfused_layer
    try:
        yield
    finally:
        LSTMCell.forward, LSTM._layer = fused


def _step(owner, z: Tensor, c: Tensor, H: int, prefix: str | None) -> tuple[Tensor, Tensor]:
    """One LSTM step from its gate pre-activations z (N, 4H) and c (N, H): (h′, c′), each gate a
    named node remembered under box ``prefix.gate_i`` (…) of module ``owner``."""

    def box(gate: str | None) -> str | None:
        return ".".join(x for x in (prefix, gate) if x) or None

    made: list[tuple[Tensor, str | None]] = [(z, box(None))]  # the gates' pre-activations
    acts = []
    for k, gate in enumerate(GATES):
        zk = z[:, k * H : (k + 1) * H]
        a = zk.tanh() if gate == "g" else apply(GateSigmoid(), zk)
        made += [(zk, box(f"gate_{gate}")), (a, box(f"gate_{gate}"))]
        a.name = gate
        acts.append(a)
    i, f, g, o = acts
    fc, ig = f * c, i * g  # the fused op's order: f ⊙ c, then + i ⊙ g
    c2 = fc + ig
    tc = c2.tanh()
    h2 = o * tc
    c2.name, h2.name = "c′", "h′"
    made += [(fc, box("cell_state")), (ig, box("cell_state")), (c2, box("cell_state"))]
    made += [(tc, box("hidden")), (h2, box("hidden"))]
    for t, where in made:
        _state.made[id(t)] = (t, owner, where)  # the tensor too: its id stays its own
    return h2, c2


def _unfused_forward(self, input, hx=None):
    """``LSTMCell.forward`` from primitives: x (N, D) or (D,), hx = (h, c) → (h′, c′)."""
    x, (h, c), batched = self._inputs(input, hx, 2)
    H = self.hidden_size
    z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
    h2, c2 = _step(self, z, c, H, None)
    if not batched:
        return h2.reshape((H,)), c2.reshape((H,))
    return h2, c2


def _unfused_layer(self, x, layer: int, direction: int, states):
    """``LSTM._layer`` from primitives: x (T, N, D), states [h0, c0] (N, H) → (the outputs
    (T, N, H), [h_T, c_T]), computed as the fused ``LSTMLayer`` computes them (x W_ihᵀ +
    (b_ih + b_hh) for all steps at once, then h W_hhᵀ + that, step by step)."""
    from chainrule.autograd.tensor_math import stack
    from chainrule.nn.modules.rnn.base import project_inputs

    w_ih, w_hh, b_ih, b_hh = self._weights(layer, direction)
    xg = project_inputs(x, w_ih, None if b_ih is None else b_ih + b_hh)
    T, H = x.shape[0], self.hidden_size
    h, c = states
    outs: list[Tensor | None] = [None] * T
    steps = range(T - 1, -1, -1) if direction == 1 else range(T)
    for t in steps:
        where = f"l{layer}{'_reverse' if direction else ''}.t{t}"
        h, c = _step(self, (h @ w_hh.T) + xg[t], c, H, where)
        outs[t] = h
    return stack(outs, axis=0), [h, c]
