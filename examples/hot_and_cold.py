"""Learning one weight: hot and cold, then gradient descent, with the texts' own settings.

The network is pred = input · weight and the error is printed as the texts print it,
(pred − goal)².

1. Hot and cold (weight 0.5, input 1, goal −1, step 0.1, 20 iterations): try weight ± step and
   keep the better. It walks to the goal in 15 steps, and then, since its step never shrinks, it
   jumps between −1 and −1.1 for ever: the ±0.1 oscillation.
2. Gradient descent moves the weight by weight_delta = (pred − goal) · input, which is the
   derivative of ½(pred − goal)² (the texts drop the 2 of d/dweight (pred − goal)²; it only
   rescales the step). chainrule's backward pass of ½(pred − goal)² computes it. At input 1 one
   step lands on the goal; at input 10, goal −10, the step is 100 times too big and each one
   overcorrects: the error goes 225 → 2,205,225 → ...
3. A learning rate alpha scales the step (weight −= alpha · weight_delta): at input 2, goal 0.8,
   alpha 0.1, each step multiplies the distance to the answer by 1 − alpha · input² = 0.6, and
   70 iterations bring the weight to 0.4.
Run: python examples/hot_and_cold.py
"""

import chainrule as cr


def hot_and_cold(weight: float, inp: float, goal: float, step: float, iterations: int):
    """The texts' loop: predict, then move the weight by ±step toward the smaller error (no move
    at a tie). Yields (iteration, weight, prediction, error) before each move."""
    for i in range(1, iterations + 1):
        pred = inp * weight
        error = (pred - goal) ** 2
        yield i, weight, pred, error
        up_error = (inp * (weight + step) - goal) ** 2
        down_error = (inp * (weight - step) - goal) ** 2
        if down_error < up_error:
            weight -= step
        if down_error > up_error:
            weight += step


def gradient_descent(weight: float, inp: float, goal: float, alpha: float, iterations: int):
    """weight −= alpha · d/dweight ½(pred − goal)², the derivative from chainrule's backward pass.
    Yields (iteration, weight, prediction, error (pred − goal)², weight_delta) before each move."""
    w = cr.tensor(weight, dtype=cr.float64, requires_grad=True)
    for i in range(1, iterations + 1):
        pred = inp * w
        half_squared = 0.5 * (pred - goal) ** 2
        half_squared.backward()  # w.grad = (pred − goal) · input, the texts' weight_delta
        yield i, w.item(), pred.item(), (pred.item() - goal) ** 2, w.grad.item()
        with cr.no_grad():
            w -= alpha * w.grad
        w.grad = None


def number(x: float, exact: bool = True) -> str:
    """Whole numbers with thousands separators, as the texts print 2,205,225. ``exact``: the
    numbers are sums of tenths, so round to 12 decimals and float residue (2.8e-17 for
    0.5 − 5 × 0.1) reads as the 0 it stands for."""
    if exact:
        x = round(x, 12) + 0.0  # + 0.0: no "-0"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.6g}"


def table(rows, with_delta: bool = False, exact: bool = True) -> None:
    head = f"  {'iteration':>9} {'weight':>14} {'prediction':>14} {'error':>20}"
    print(head + (f" {'weight_delta':>14}" if with_delta else ""))
    for row in rows:
        i, w, p, e = row[:4]
        w, p, e = (number(v, exact) for v in (w, p, e))
        line = f"  {i:>9} {w:>14} {p:>14} {e:>20}"
        print(line + (f" {number(row[4], exact):>14}" if with_delta else ""))


print("1. Hot and cold: weight 0.5, input 1, goal -1, step 0.1, 20 iterations")
table(hot_and_cold(0.5, 1.0, -1.0, 0.1, 20))
print("  the goal after 15 steps; then the fixed step jumps between -1 and -1.1 (error 0, 0.01)\n")

print("2. Gradient descent, weight -= weight_delta = (pred - goal) * input, from backward()")
print("   at input 1, goal -1 (weight 0.5)")
table(gradient_descent(0.5, 1.0, -1.0, 1.0, 3), with_delta=True)
print("   at input 10, goal -10 (weight 0.5): each step overcorrects")
table(gradient_descent(0.5, 10.0, -10.0, 1.0, 4), with_delta=True)
print("  input 1: one step lands on the goal; input 10: the error grows 225 -> 2,205,225 -> ...\n")

print("3. With a learning rate: weight -= alpha * weight_delta, alpha 0.1, input 2, goal 0.8")
rows = list(gradient_descent(0.5, 2.0, 0.8, 0.1, 70))
# Not rounded: the error shrinks by 0.36 a step, far below 1e-12, and is not float residue.
table([r for r in rows if r[0] in (1, 2, 3, 10, 20, 30, 40, 50, 60, 70)], True, exact=False)
print(f"  after 70 iterations weight {rows[-1][1]:.6f}, the answer 0.8 / 2 = 0.4")
