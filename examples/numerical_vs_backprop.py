"""Numerical differentiation against backpropagation, on networks of growing size.

For a network with n parameters, the numerical gradient (central differences) needs two forward
passes per parameter: 2n passes, each costing about n multiply-adds, so O(n²) in all.
Backpropagation gets every derivative from one forward and one backward pass: O(n). The table and
the log-log plot show the two growth rates (slopes near 2 and 1, once the matrices are big enough
that arithmetic, not Python overhead, dominates a pass).
Run: python examples/numerical_vs_backprop.py [--out numerical_vs_backprop.png]
"""

import argparse
import os
import time

# One BLAS thread: both methods are timed on the same footing, and small matrix products do not
# lose time to threads fighting over a few cores.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import matplotlib  # noqa: E402  (after the thread settings above)
import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="numerical_vs_backprop.png", help="where to save the plot")
parser.add_argument("--widths", default="8,16,32,64,96", help="hidden widths H (comma-separated)")
args = parser.parse_args()

cr.manual_seed(0)
N = 256  # a batch of 256 examples, so that a forward pass is real arithmetic


def loss_of(params, x, y):
    """An MLP H -> H -> 1 with tanh: mean squared error on the batch. x: (N, H), y: (N, 1)."""
    W1, b1, W2, b2 = params
    return (((x @ W1 + b1).tanh() @ W2 + b2 - y) ** 2).mean()


print(
    f"{'H':>4} {'params n':>9} {'numerical s':>12} {'backprop s':>11} {'ratio':>7} {'max|diff|':>10}"
)
rows = []
for H in map(int, args.widths.split(",")):
    x, y = cr.randn(N, H, dtype=cr.float64), cr.randn(N, 1, dtype=cr.float64)
    shapes = [(H, H), (H,), (H, 1), (1,)]  # W1, b1, W2, b2
    params = [(cr.randn(*s, dtype=cr.float64) * 0.3).requires_grad_() for s in shapes]
    n = sum(p.numel() for p in params)

    t_bp = float("inf")
    for _ in range(7):  # best of 7: one pass is short, and the shortest is the least disturbed
        params = [p.detach().requires_grad_() for p in params]  # fresh leaves, no .grad
        t0 = time.perf_counter()
        loss_of(params, x, y).backward()
        t_bp = min(t_bp, time.perf_counter() - t0)

    t0 = time.perf_counter()
    eps, worst = 1e-6, 0.0
    with cr.no_grad():
        for p in params:
            for i in np.ndindex(p.shape):
                keep = p.data[i]
                p.data[i] = keep + eps
                hi = loss_of(params, x, y).item()
                p.data[i] = keep - eps
                lo = loss_of(params, x, y).item()
                p.data[i] = keep
                worst = max(worst, abs((hi - lo) / (2 * eps) - p.grad.data[i]))
    t_num = time.perf_counter() - t0
    rows.append((n, t_num, t_bp))
    print(f"{H:>4} {n:>9} {t_num:>12.3f} {t_bp:>11.5f} {t_num / t_bp:>7.0f} {worst:>10.1e}")

n, t_num, t_bp = map(np.array, zip(*rows))
slope_num = np.polyfit(np.log(n[-3:]), np.log(t_num[-3:]), 1)[0]
slope_bp = np.polyfit(np.log(n[-3:]), np.log(t_bp[-3:]), 1)[0]
slope_ratio = np.polyfit(np.log(n), np.log(t_num / t_bp), 1)[0]
print(f"growth over the largest sizes: numerical ~ n^{slope_num:.1f}, backprop ~ n^{slope_bp:.1f}")
print(f"numerical / backprop grows ~ n^{slope_ratio:.1f}: 2n forward passes against about two")

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(n, t_num, "o-", color="#cf222e", label=f"numerical (slope {slope_num:.1f})")
ax.loglog(n, t_bp, "o-", color="#1a7f37", label=f"backpropagation (slope {slope_bp:.1f})")
for power, style in ((2, "--"), (1, ":")):  # guides through the last point of each curve
    last = t_num[-1] if power == 2 else t_bp[-1]
    ax.loglog(n, last * (n / n[-1]) ** power, style, color="gray", label=f"∝ n^{power}")
ax.set(xlabel="parameters n", ylabel="seconds for the full gradient")
ax.set_title("Numerical differentiation O(n²) vs backpropagation O(n)")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(args.out, dpi=120)
print(f"plot saved to {args.out}")
