"""SGD, SGD with momentum and Adagrad on one problem: a long narrow valley.

f(w) = ½ (w1² + 20 w2²) from w = (−4, 1): the curvature across the valley (20) is twenty times
the curvature along it (1). Plain SGD must keep its learning rate below 2/20 to stay stable
across the valley, and at 0.09 it gains only a factor 1 − 0.09 = 0.91 a step along it. Momentum
with the same rate and μ = 0.5 accumulates the steady push along the valley while the
back-and-forth across it cancels: a factor √0.5 ≈ 0.71 a step in both directions. μ = 0.9, the
usual default, is too much here: it swings, √0.9 ≈ 0.95 a step, slower than SGD. Adagrad divides
each coordinate's step by the root of its summed squared gradients, so both coordinates move at a
similar pace whatever their scale.
The gradients come from chainrule's backward(), the updates from chainrule.optim (PyTorch's
update rules). Prints the loss along the way and saves the paths over the contours.
Run: python examples/optimizers.py [--out optimizers.png]
"""

import argparse

import matplotlib
import numpy as np

import chainrule as cr

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="optimizers.png", help="where to save the plot")
args = parser.parse_args()

START, STEPS = (-4.0, 1.0), 50
CURVATURE = cr.tensor([1.0, 20.0], dtype=cr.float64)


def f(w):
    return 0.5 * (CURVATURE * w**2).sum()


RECIPES = {  # name: (optimiser class, its settings)
    "SGD lr 0.09": (cr.optim.SGD, dict(lr=0.09)),
    "momentum lr 0.09, μ 0.5": (cr.optim.SGD, dict(lr=0.09, momentum=0.5)),
    "momentum lr 0.09, μ 0.9": (cr.optim.SGD, dict(lr=0.09, momentum=0.9)),
    "Adagrad lr 1": (cr.optim.Adagrad, dict(lr=1.0)),
}


def run(opt_class, settings) -> tuple[list[float], np.ndarray]:
    """Minimises f for STEPS steps; returns the loss before each step and after the last, and
    the path of w."""
    w = cr.tensor(START, dtype=cr.float64, requires_grad=True)
    opt = opt_class([w], **settings)
    losses, path = [], [w.detach().numpy().copy()]
    for _ in range(STEPS):
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        path.append(w.detach().numpy().copy())
    losses.append(f(w).item())
    return losses, np.array(path)


SHOWN = (0, 1, 5, 10, 20, 50)  # steps taken
print(f"f(w) = ½(w1² + 20 w2²) from w = {START}, after this many steps:")
print(f"  {'optimiser':<26}" + "".join(f"{k:>12}" for k in SHOWN) + "   final w")
results = {}
for name, (cls, settings) in RECIPES.items():
    losses, path = run(cls, settings)
    results[name] = path
    w = ", ".join(f"{v:.4g}" for v in path[-1])
    print(f"  {name:<26}" + "".join(f"{losses[k]:>12.4g}" for k in SHOWN) + f"   ({w})")
print(
    "  SGD crawls along the valley; momentum μ 0.5 and Adagrad get down it far faster; μ 0.9 swings"
)

fig, (paths, curves) = plt.subplots(1, 2, figsize=(11, 4))
g1, g2 = np.meshgrid(np.linspace(-4.5, 3, 300), np.linspace(-1.5, 1.5, 200))
paths.contour(
    g1, g2, 0.5 * (g1**2 + 20 * g2**2), levels=np.geomspace(0.02, 40, 12), colors="#d0d7de"
)
for (name, path), colour in zip(results.items(), ("#cf222e", "#0550ae", "#8250df", "#1a7f37")):
    paths.plot(path[:, 0], path[:, 1], ".-", color=colour, label=name, lw=1, ms=3)
    curves.semilogy([0.5 * (p[0] ** 2 + 20 * p[1] ** 2) for p in path], color=colour, label=name)
paths.plot(0, 0, "k*", ms=10)
paths.set(xlabel="w1", ylabel="w2", title=f"{STEPS} steps from (−4, 1)")
curves.set(xlabel="step", ylabel="f(w)", title="loss")
for ax in (paths, curves):
    ax.legend(fontsize=8)
curves.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(args.out, dpi=120)
print(f"plot saved to {args.out}")
