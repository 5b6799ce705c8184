"""Nielsen's four equations of backpropagation, computed by hand beside chainrule's gradients.

For a network of sigmoid layers a^l = σ(z^l), z^l = w^l a^(l−1) + b^l, with the quadratic cost
C = ½ ‖a^L − y‖² (Nielsen, "Neural Networks and Deep Learning", chapter 2):

    BP1  δ^L = (a^L − y) ⊙ σ'(z^L)                  the error of the output layer
    BP2  δ^l = ((w^(l+1))ᵀ δ^(l+1)) ⊙ σ'(z^l)        the error moved back one layer
    BP3  ∂C/∂b^l_j = δ^l_j
    BP4  ∂C/∂w^l_jk = a^(l−1)_k δ^l_j                 (the matrix δ^l (a^(l−1))ᵀ)

with σ'(z) = σ(z)(1 − σ(z)). The equations are evaluated in NumPy below, layer by layer, from
the output back; chainrule differentiates the same forward pass with its backward(); the two are
printed side by side with their largest difference (float64 throughout).
Run: python examples/nielsen_backprop.py
"""

import itertools

import numpy as np

import chainrule as cr

SIZES = [3, 4, 2]  # input, hidden, output neurons
rng = np.random.default_rng(0)
weights = [rng.standard_normal((n, m)) for m, n in itertools.pairwise(SIZES)]
biases = [rng.standard_normal((n, 1)) for n in SIZES[1:]]
x = rng.standard_normal((SIZES[0], 1))  # one training input, a column vector as in Nielsen
y = np.array([[1.0], [0.0]])  # its desired output


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ----- by hand: the forward pass keeping every z^l and a^l, then BP1-BP4 -----
activations, zs = [x], []
for w, b in zip(weights, biases):
    zs.append(w @ activations[-1] + b)
    activations.append(sigmoid(zs[-1]))
cost = 0.5 * float(np.sum((activations[-1] - y) ** 2))
deltas = [None] * len(weights)
deltas[-1] = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))  # BP1
for l in range(len(weights) - 2, -1, -1):
    s = sigmoid(zs[l])
    deltas[l] = (weights[l + 1].T @ deltas[l + 1]) * s * (1 - s)  # BP2
hand_b = deltas  # BP3
hand_w = [d @ a.T for d, a in zip(deltas, activations[:-1])]  # BP4

# ----- chainrule: the same forward pass on tensors, then backward() -----
W = [cr.tensor(w, requires_grad=True) for w in weights]
B = [cr.tensor(b, requires_grad=True) for b in biases]
a = cr.tensor(x)
for w, b in zip(W, B):
    a = (w @ a + b).sigmoid()
C = 0.5 * ((a - cr.tensor(y)) ** 2).sum()
C.backward()


def show(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{u:+.6f}" for u in np.ravel(v)) + "]"


print(f"network {SIZES}, sigmoid layers, C = ½‖a^L − y‖² = {cost:.6f} (chainrule {C.item():.6f})")
worst = 0.0
for l in range(len(weights) - 1, -1, -1):
    layer = l + 1  # Nielsen numbers the input layer 1, so weights[0] is w^2
    name = f"layer {layer + 1}"
    eq = "BP1" if l == len(weights) - 1 else "BP2"
    print(f"\n{name}: δ^{layer + 1} by {eq} = {show(deltas[l])}")
    db = np.abs(hand_b[l] - B[l].grad.numpy()).max()
    dw = np.abs(hand_w[l] - W[l].grad.numpy()).max()
    worst = max(worst, db, dw)
    print(f"  ∂C/∂b  BP3       {show(hand_b[l])}")
    print(f"         chainrule {show(B[l].grad.numpy())}   max |difference| {db:.1e}")
    print(f"  ∂C/∂w  BP4 row 1 {show(hand_w[l][0])}")
    print(f"         chainrule {show(W[l].grad.numpy()[0])}   max |difference| {dw:.1e}")
print(f"\nBP1-BP4 by hand and chainrule's backward() agree to {worst:.1e} (float64)")
