"""Numerical differentiation against backpropagation, counted and then timed, on growing MLPs.

The network is tanh(x W1) W2 on a batch of N = 256 examples, without biases, so that one forward
pass makes exactly N multiply-adds per parameter: N·n for n parameters. The numerical gradient
(central differences) needs two forward passes per parameter, 2n passes of N·n multiply-adds:
2N·n², slope exactly 2 on a log-log plot. Backpropagation needs one forward and one backward
pass, whatever n: N·n forward, and backward one product per matrix input that needs a gradient
(N·n, plus N·H to send the gradient back to the hidden layer): 2N·n + N·H in all, slope 1 as n
grows, and the ratio of the two is about n.
The passes are counted as they are made, the multiply-adds from the matrix products in the graph
and in chainrule's recorded backward pass (``chainrule.explain.record``); the elementwise ops (tanh,
the squared error) add O(N·H) a pass and are left out. Timings come second: on small matrices
Python's overhead per op hides the growth, so their slopes fall short of 2 and 1.
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
passes = 0  # forward passes made, counted in loss_of


def loss_of(params, x, y):
    """An MLP H -> H -> 1 with tanh and no biases: mean squared error. x: (N, H), y: (N, 1)."""
    global passes
    passes += 1
    W1, W2 = params
    return (((x @ W1).tanh() @ W2 - y) ** 2).mean()


def multiply_adds(loss) -> tuple[int, int]:
    """Multiply-adds of the matrix products of one forward and one backward pass of ``loss``,
    read from the graph and from the engine's recorded backward pass: A (m×k) @ B (k×p) costs
    m·k·p forward, and as much again for each of A, B that is sent a gradient."""
    ledger = cr.explain.record(loss)
    forward = backward = 0
    for step in ledger.steps:
        if step.op.name != "matmul":
            continue
        a, b = step.op.inputs
        cost = a.shape[0] * a.shape[1] * b.shape[1]
        forward += cost
        backward += cost * sum(e.contribution is not None for e in step.edges)
    return forward, backward


print(
    f"{'H':>4} {'params n':>9} {'num passes':>10} {'num mult-adds':>14} {'bp passes':>9} "
    f"{'bp mult-adds':>13} {'ratio':>6} | {'num s':>7} {'bp s':>8} {'ratio':>6} {'max|diff|':>9}"
)
rows = []
for H in map(int, args.widths.split(",")):
    x, y = cr.randn(N, H, dtype=cr.float64), cr.randn(N, 1, dtype=cr.float64)
    shapes = [(H, H), (H, 1)]  # W1, W2
    params = [(cr.randn(*s, dtype=cr.float64) * 0.3).requires_grad_() for s in shapes]
    n = sum(p.numel() for p in params)
    forward_ma, backward_ma = multiply_adds(loss_of(params, x, y))
    bp_ma = forward_ma + backward_ma  # one forward and one backward pass

    t_bp = float("inf")
    for _ in range(7):  # best of 7: one pass is short, and the shortest is the least disturbed
        params = [p.detach().requires_grad_() for p in params]  # fresh leaves, no .grad
        t0 = time.perf_counter()
        loss_of(params, x, y).backward()
        t_bp = min(t_bp, time.perf_counter() - t0)

    passes = 0
    t0 = time.perf_counter()
    eps, worst = 1e-6, 0.0
    with cr.no_grad():
        for p in params:
            for i in np.ndindex(p.shape):
                keep = p.data[i].item()  # a number: p.data[i] is a view, as in PyTorch
                p.data[i] = keep + eps
                hi = loss_of(params, x, y).item()
                p.data[i] = keep - eps
                lo = loss_of(params, x, y).item()
                p.data[i] = keep
                worst = max(worst, abs((hi - lo) / (2 * eps) - p.grad.data[i]))
    t_num = time.perf_counter() - t0
    num_ma = passes * forward_ma
    rows.append((n, num_ma, bp_ma, t_num, t_bp))
    print(
        f"{H:>4} {n:>9,} {passes:>10,} {num_ma:>14,} {2:>9} {bp_ma:>13,} {num_ma / bp_ma:>6,.0f}"
        f" | {t_num:>7.3f} {t_bp:>8.5f} {t_num / t_bp:>6,.0f} {worst:>9.1e}"
    )
    assert passes == 2 * n and forward_ma == N * n  # what the docstring says, checked


def slope(a, b):
    """The log-log slope over the two largest sizes."""
    return float(np.log(b[-1] / b[-2]) / np.log(a[-1] / a[-2]))


n, num_ma, bp_ma, t_num, t_bp = map(np.array, zip(*rows))
s_num, s_bp = slope(n, num_ma), slope(n, bp_ma)
print(
    f"multiply-adds grow as n^{s_num:.2f} (numerical, 2N·n²) and n^{s_bp:.2f} (backprop, "
    "2N·n + N·H, slope 1 as n grows)"
)
print(
    f"timings, secondary: numerical ~ n^{slope(n, t_num):.1f}, backprop ~ n^{slope(n, t_bp):.1f} "
    "(Python's overhead per op flattens small sizes)"
)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.loglog(n, num_ma, "o-", color="#cf222e", label=f"numerical: 2n passes (slope {s_num:.2f})")
left.loglog(n, bp_ma, "o-", color="#1a7f37", label=f"backprop: 2 passes (slope {s_bp:.2f})")
left.set(xlabel="parameters n", ylabel="multiply-adds for the full gradient")
left.set_title("counted: O(n²) against O(n)")
right.loglog(n, t_num, "o-", color="#cf222e", label=f"numerical (slope {slope(n, t_num):.1f})")
right.loglog(n, t_bp, "o-", color="#1a7f37", label=f"backprop (slope {slope(n, t_bp):.1f})")
right.set(xlabel="parameters n", ylabel="seconds for the full gradient")
right.set_title("timed on this machine")
for ax in (left, right):
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(args.out, dpi=120)
print(f"plot saved to {args.out}")
