"""The layer view of a recorded step: Nielsen's four equations of backpropagation, per layer,
beside the gradients chainrule's engine computed in the same backward pass.

For a fully connected layer l with input aˡ⁻¹ (N, D_in), weight Wˡ (D_out, D_in), bias bˡ and
weighted input zˡ = aˡ⁻¹ Wˡᵀ + bˡ (N, D_out), δˡ = ∂C/∂zˡ and (rows are examples, as in
PyTorch; Nielsen writes one example as a column):

* BP1  δᴸ = ∇ₐC ⊙ σ'(zᴸ)                 the last layer, where an activation follows it
* BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ)          Nielsen's ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ'(zˡ)
* BP3  ∂C/∂bˡ = δˡ                        summed over the batch
* BP4  ∂C/∂Wˡ = δˡ aˡ⁻¹ᵀ                  (δˡ)ᵀ aˡ⁻¹ with rows as examples

Every number here is read from the ledger (the engine's own backward pass) or computed from it
with NumPy by the equations: ∇ₐC is the gradient the engine sent to the activation's output,
σ'(z) the activation's local derivative from its own ``vjp``. The equations' results are shown
beside the engine's δ, ∂C/∂b and ∂C/∂W, with the largest difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.ledger import Ledger
from chainrule.explain.local import short

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softplus")


@dataclass
class Layer:
    """One fully connected layer of a recorded step and its four equations.

    ``a``: the layer's input (N, D_in); ``z``: its weighted input (N, D_out); ``delta``: the
    engine's ∂C/∂z; ``delta_eq``: δ by BP1 or BP2 (None where no activation follows the layer
    and δ is simply what the loss sent back); ``equation``: ``"BP1"``, ``"BP2"``, ``"a"`` (δ = ∂C/∂a ⊙ σ'(z) for a
    hidden layer whose activation does not feed the next layer directly) or ``"loss"``;
    ``dW``/``db``: BP4's (δ)ᵀa and BP3's Σδ; ``W_grad``/``b_grad``: the engine's gradients of
    the weight and bias (what ``backward()`` puts in ``.grad``).
    """

    name: str
    weight_name: str
    bias_name: str | None
    weight: Tensor
    bias: Tensor | None
    a: xp.ndarray
    z: xp.ndarray
    delta: xp.ndarray
    delta_eq: xp.ndarray | None
    equation: str
    activation: str | None
    dW: xp.ndarray
    db: xp.ndarray | None
    W_grad: xp.ndarray
    b_grad: xp.ndarray | None

    def to_dict(self) -> dict:
        """Every array in full, as nested lists."""

        def full(x):
            return None if x is None else xp.asarray(x).tolist()

        return {
            "name": self.name,
            "weight": self.weight_name,
            "bias": self.bias_name,
            "equation": self.equation,
            "activation": self.activation,
            **{k: full(getattr(self, k)) for k in ("a", "z", "delta", "delta_eq", "dW", "db")},
            "W_grad": full(self.W_grad),
            "b_grad": full(self.b_grad),
        }


def find_layers(ledger: Ledger, names: dict[int, str], order: list[Tensor]) -> list[Layer]:
    """The fully connected layers of the step behind ``ledger``, output layer first (the order
    backpropagation reaches them). ``names``: id(parameter) -> its name (``fc1.weight``)."""
    consumers: dict[int, list[Tensor]] = {}
    for t in order:
        for i in t._node.inputs if t._node is not None else ():
            consumers.setdefault(id(i), []).append(t)
    found = []
    for t in order:
        if t._node is None or t._node.name != "linear" or len(t._node.inputs) < 2:
            continue
        weight = t._node.inputs[1]
        if id(weight) not in names or ledger.grad(t) is None:
            continue
        bias = t._node.inputs[2] if len(t._node.inputs) > 2 else None
        found.append((t, weight, bias))
    layers: list[Layer] = []
    later: tuple[Tensor, Tensor] | None = None  # (the next layer's linear op, its weight)
    for t, weight, bias in reversed(found):
        layers.append(_layer(ledger, names, consumers, t, weight, bias, later))
        later = (t, weight)
    return layers


def _layer(ledger, names, consumers, t, weight, bias, later) -> Layer:
    a, z = t._node.inputs[0]._data, t._data
    delta = ledger.grad(t)
    act = _activation_after(t, consumers)
    sigma_prime = _local(ledger, act) if act is not None else None
    delta_eq, equation = None, "loss"
    if act is not None and sigma_prime is not None:
        feeds_later = later is not None and any(i is act for i in later[0]._node.inputs)
        if feeds_later:  # BP2: δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ)
            delta_eq = (ledger.grad(later[0]) @ later[1]._data) * sigma_prime
            equation = "BP2"
        elif ledger.grad(act) is not None:  # BP1: δᴸ = ∇ₐC ⊙ σ'(zᴸ)
            delta_eq = ledger.grad(act) * sigma_prime
            # BP1 is the output layer's; elsewhere (dropout between two layers) the same
            # product holds with ∇ₐC whatever lies between a and the next layer.
            equation = "BP1" if later is None else "a"
    d2 = delta.reshape(-1, delta.shape[-1])
    a2 = a.reshape(-1, a.shape[-1])
    return Layer(
        name=names[id(weight)].rpartition(".")[0] or names[id(weight)],
        weight_name=names[id(weight)],
        bias_name=names.get(id(bias)) if bias is not None else None,
        weight=weight,
        bias=bias,
        a=a,
        z=z,
        delta=delta,
        delta_eq=delta_eq,
        equation=equation,
        activation=act._node.name if act is not None else None,
        dW=d2.T @ a2,
        db=d2.sum(axis=0) if bias is not None else None,
        W_grad=ledger.grad(weight),
        b_grad=ledger.grad(bias) if bias is not None else None,
    )


def _activation_after(t: Tensor, consumers) -> Tensor | None:
    """The elementwise activation that takes z and nothing else, if z's only user is one."""
    users = consumers.get(id(t), [])
    if len(users) == 1 and users[0]._node.name in ACTIVATIONS and len(users[0]._node.inputs) == 1:
        return users[0]
    return None


def _local(ledger: Ledger, act: Tensor) -> xp.ndarray | None:
    step = ledger.step_of(act)
    return None if step is None else ledger.local(step, 0)


def largest_difference(x, y) -> float:
    """max |x − y|, 0 for two empty arrays."""
    d = xp.abs(xp.asarray(x, dtype=xp.float64) - xp.asarray(y, dtype=xp.float64))
    return float(d.max()) if d.size else 0.0


def layer_view(layers: list[Layer]) -> list[str]:
    """The layer view as lines of text: per layer δ by its equation, ∂C/∂b and ∂C/∂W, each
    beside the engine's and the largest difference."""
    if not layers:
        return ["layer view: no fully connected layer with named parameters in this step"]
    n = layers[0].a.shape[0] if layers[0].a.ndim > 1 else 1
    lines = [
        "layer view (Nielsen's BP1-BP4; δ = ∂C/∂z for z = a Wᵀ + b, a = the layer's input; "
        f"batch of {n}; output layer first)"
    ]
    for k, layer in enumerate(layers):
        d_in, d_out = layer.weight.shape[1], layer.weight.shape[0]
        act = f", then {layer.activation}" if layer.activation else ""
        lines.append(
            f"  {layer.name} (Linear {d_in}→{d_out}{act}): a {_shape(layer.a)}, z {_shape(layer.z)}"
        )
        lines.append(f"    {'δ = ∂C/∂z (the engine’s)':<44}{short(layer.delta)}")
        if layer.equation == "BP2":
            nxt = layers[k - 1].name
            eq = f"BP2  δ = (δ′ W′) ⊙ σ'(z), ′ = {nxt}"
        elif layer.equation == "BP1":
            eq = "BP1  δ = ∇ₐC ⊙ σ'(z)"
        elif layer.equation == "a":
            eq = f"δ = ∂C/∂a ⊙ σ'(z), a = {layer.activation}(z)"
        else:
            eq = None
        if eq is not None:
            diff = largest_difference(layer.delta_eq, layer.delta)
            lines.append(f"    {eq:<44}{short(layer.delta_eq)}   max |difference| {diff:.2g}")
        else:
            lines.append("    (no activation follows: δ is what the loss sent back)")
        if layer.db is not None:
            lines.append(
                f"    {'BP3  ∂C/∂b = Σ δ':<44}{short(layer.db)}   autograd's "
                f"{layer.bias_name}: max |difference| {largest_difference(layer.db, layer.b_grad):.2g}"
            )
        lines.append(
            f"    {'BP4  ∂C/∂W = δᵀ a (Nielsen: δ aᵀ)':<44}{short(layer.dW)}   autograd's "
            f"{layer.weight_name}: max |difference| {largest_difference(layer.dW, layer.W_grad):.2g}"
        )
    return lines


def _shape(a) -> str:
    return "×".join(map(str, xp.shape(a))) or "scalar"
