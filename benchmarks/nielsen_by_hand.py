"""Nielsen's network.py written by hand as whole-batch NumPy (float64): the reference that
chainrule's ``nielsen`` model is compared with for accuracy.

Sizes [784, 30, 10], sigmoid everywhere, quadratic cost, weights and biases N(0, 1), plain SGD
with η = 3.0 on mini-batches of 10, trained on the same 50,000 Fashion-MNIST images
(``load_splits``) and scored on the 10,000 test images after each run of EPOCHS epochs, for each
seed in [FIRST, LAST):

    .venv/bin/python benchmarks/nielsen_by_hand.py [FIRST LAST [EPOCHS]]   # default 0 8 5
"""

from __future__ import annotations

import sys

import numpy as np

from chainrule.datasets import load_splits


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def main() -> None:
    first, last = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (0, 8)
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    (x, y), _, (xt, yt) = load_splits("fashion-mnist")
    x = x.reshape(len(x), -1).astype(np.float64)
    xt = xt.reshape(len(xt), -1).astype(np.float64)
    eye = np.eye(10)
    accs = []
    for seed in range(first, last):
        rng = np.random.default_rng(seed)
        w1, b1 = rng.standard_normal((30, 784)), rng.standard_normal(30)
        w2, b2 = rng.standard_normal((10, 30)), rng.standard_normal(10)
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), 10):
                idx = order[i : i + 10]
                xb, yb, m = x[idx], eye[y[idx]], len(idx)
                a1 = sigmoid(xb @ w1.T + b1)
                a2 = sigmoid(a1 @ w2.T + b2)
                d2 = (a2 - yb) * a2 * (1 - a2)  # ∂C/∂z2 for C = ½‖a2 - y‖²
                d1 = (d2 @ w2) * a1 * (1 - a1)
                w2 -= 3.0 / m * d2.T @ a1
                b2 -= 3.0 / m * d2.sum(0)
                w1 -= 3.0 / m * d1.T @ xb
                b1 -= 3.0 / m * d1.sum(0)
        acc = float((sigmoid(sigmoid(xt @ w1.T + b1) @ w2.T + b2).argmax(1) == yt).mean())
        accs.append(acc)
        print(f"seed {seed}: test accuracy {acc:.4f} after {epochs} epochs", flush=True)
    print(
        f"mean {np.mean(accs):.4f}, median {np.median(accs):.4f}, range {min(accs):.4f}-{max(accs):.4f}"
    )


if __name__ == "__main__":
    main()
