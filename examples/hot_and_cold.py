"""Learning one weight: "hot and cold" against gradient descent.

The network is pred = input · weight; the error is (pred - goal)². Hot and cold learning nudges
the weight up and down by a fixed step and keeps whichever prediction is better: it needs three
predictions per step, and its step does not shrink as the error does, so a small step is slow and
a big step overshoots and circles the answer forever. Gradient descent moves the weight by the
derivative instead, here computed by chainrule's backward pass: with error ½(pred - goal)²,
d error / d weight = (pred - goal) · input, so the step shrinks as the error does. But the step also
scales with input², and without a learning rate it overshoots once input² > 2: at input 10 each
step multiplies the distance to the answer by 1 - 100 = -99. A learning rate alpha fixes that
(it converges when 0 < alpha · input² < 2).
Run: python examples/hot_and_cold.py
"""

import chainrule as cr


def hot_and_cold(inp: float, goal: float, step: float, iterations: int = 2000):
    weight = 0.5
    for i in range(iterations):
        error = (inp * weight - goal) ** 2
        up = (inp * (weight + step) - goal) ** 2
        down = (inp * (weight - step) - goal) ** 2
        if min(up, down) >= error:  # neither direction helps: stuck at this step size
            return i, weight, error
        weight = weight + step if up < down else weight - step
    return iterations, weight, (inp * weight - goal) ** 2


print("Hot and cold (weight starts at 0.5): error (pred - goal)^2 when it can do no better")
print(f"  {'input':>5} {'goal':>5} {'step':>6} {'steps':>6} {'weight':>8} {'error':>10}")
for inp, goal in ((1.0, 0.8), (2.0, -1.0)):
    for step in (0.001, 0.35):
        n, w, err = hot_and_cold(inp, goal, step)
        print(f"  {inp:>5} {goal:>5} {step:>6} {n:>6} {w:>8.4f} {err:>10.2e}")
print("  a small step takes hundreds of steps; a big one gets stuck short of the goal\n")


def gradient_descent(inp: float, goal: float, alpha: float, steps: int = 8):
    weight = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    errors = []
    for _ in range(steps):
        error = 0.5 * (inp * weight - goal) ** 2
        error.backward()  # weight.grad = (pred - goal) * input
        weight.data -= alpha * weight.grad.data
        weight.grad = None
        errors.append(error.item())
    return weight.item(), errors


print("Gradient descent, weight -= alpha * d error/d weight (8 steps from 0.5)")
print(f"  {'input':>5} {'goal':>5} {'alpha':>6} {'weight':>12}  error at steps 1, 2, 3 ... 8")
RUNS = [(1.0, 0.8, 1.0), (2.0, -1.0, 1.0), (10.0, 0.8, 1.0), (2.0, -1.0, 0.1), (10.0, 0.8, 0.005)]
for inp, goal, alpha in RUNS:
    w, errs = gradient_descent(inp, goal, alpha)
    shown = ", ".join(f"{e:.3g}" for e in errs[:3]) + f" ... {errs[-1]:.3g}"
    verdict = "diverges" if errs[-1] > errs[0] else "converges"
    print(f"  {inp:>5} {goal:>5} {alpha:>6} {w:>12.5g}  {shown}  ({verdict})")
print("  without a learning rate input 10 diverges (x -99 per step); alpha = 0.005 fixes it")
