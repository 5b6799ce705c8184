"""Backpropagation in practice: a function computed in stages, as CS231n's notes do it.

    f(x, y) = (x + σ(y)) / (σ(x) + (x + y)²)   at x = 3, y = -4

Every stage is a variable of its own, so the backward pass is easy to follow: chainrule records
the stages, and cr.grad gives d f / d(stage) for each. The same is then done by hand (CS231n's
staged backward, one line per stage, `+=` where a variable is used twice), and both are checked
against a numerical estimate (central differences).
Run: python examples/staged_computation.py
"""

import math

import chainrule as cr


def f_of(x: float, y: float) -> float:
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    return (x + sig(y)) / (sig(x) + (x + y) ** 2)


x = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)
y = cr.tensor(-4.0, dtype=cr.float64, requires_grad=True)
sigy = 1.0 / (1 + cr.exp(-y))  # σ(y), the sigmoid in the numerator       (1)
num = x + sigy  # numerator                                                (2)
sigx = 1.0 / (1 + cr.exp(-x))  # σ(x), the sigmoid in the denominator     (3)
xpy = x + y  #                                                              (4)
xpysqr = xpy**2  #                                                          (5)
den = sigx + xpysqr  # denominator                                          (6)
invden = 1.0 / den  #                                                       (7)
f = num * invden  # done                                                    (8)

stages = dict(sigy=sigy, num=num, sigx=sigx, xpy=xpy, xpysqr=xpysqr, den=den, invden=invden)
grads = cr.grad(f, list(stages.values()) + [x, y])
print(f"f = {f.item():.6f}\n\n{'stage':<8}{'value':>12}{'df/dstage':>14}")
for (name, t), g in zip(stages.items(), grads):
    print(f"{name:<8}{t.item():>12.6f}{g.item():>14.6f}")
dx, dy = grads[-2].item(), grads[-1].item()

# CS231n's staged backward pass, by hand: each stage's local gradient times the one from above.
X, Y = 3.0, -4.0
s_y, s_x = 1 / (1 + math.exp(-Y)), 1 / (1 + math.exp(-X))
n_, p_ = X + s_y, X + Y
d_ = s_x + p_**2
i_ = 1 / d_
dnum, dinvden = i_, n_  # (8) f = num * invden
dden = (-1.0 / d_**2) * dinvden  # (7)
dsigx, dxpysqr = dden, dden  # (6)
dxpy = 2 * p_ * dxpysqr  # (5)
hx, hy = dxpy, dxpy  # (4)
hx += (1 - s_x) * s_x * dsigx  # (3)  x is used again: its gradients add up (+=)
hx += dnum  # (2)
dsigy = dnum
hy += (1 - s_y) * s_y * dsigy  # (1)

h = 1e-6
nx = (f_of(X + h, Y) - f_of(X - h, Y)) / (2 * h)
ny = (f_of(X, Y + h) - f_of(X, Y - h)) / (2 * h)
print(f"\n{'':<6}{'chainrule':>12}{'by hand':>12}{'numerical':>12}{'|chainrule - numerical|':>26}")
print(f"{'df/dx':<6}{dx:>12.6f}{hx:>12.6f}{nx:>12.6f}{abs(dx - nx):>26.1e}")
print(f"{'df/dy':<6}{dy:>12.6f}{hy:>12.6f}{ny:>12.6f}{abs(dy - ny):>26.1e}")
ok = abs(dx - nx) < 1e-6 and abs(dy - ny) < 1e-6 and abs(dx - hx) < 1e-12 and abs(dy - hy) < 1e-12
print("gradients agree" if ok else "GRADIENTS DISAGREE")
