"""The worked examples that teach backpropagation, computed by chainrule's backward pass.

    e = (a+b)(b+1)      at a=2, b=1         de/da = 2, de/db = 5
    J = 3(a + bc)       at a=5, b=3, c=2    dJ/da = 3, dJ/db = 6, dJ/dc = 9
    f = (x+y)z          at x=-2, y=5, z=-4  df/dx = -4, df/dy = -4, df/dz = 3
    the sigmoid neuron  f = σ(w0 x0 + w1 x1 + w2) at w=[2,-3,-3], x=[-1,-2] (CS231n): f = 0.73

Then the first one step by step, as `chainrule explain "(a+b)*(b+1)" --at a=2,b=1` prints it.
Run: python examples/worked_examples.py
"""

import chainrule as cr
from chainrule.explain import explain


def leaves(**values):
    """Named scalars that require a gradient (float64, so the printed numbers are exact)."""
    return {k: cr.tensor(v, dtype=cr.float64, requires_grad=True) for k, v in values.items()}


def show(title: str, out, inputs: dict) -> None:
    out.backward()
    grads = ", ".join(f"d/d{k} = {t.grad.item():g}" for k, t in inputs.items())
    print(f"{title:<36} value {out.item():g};  {grads}")


v = leaves(a=2.0, b=1.0)
c = v["a"] + v["b"]  # c = 3; c receives de/dc = d = 2
d = v["b"] + 1  # d = 2; d receives de/dd = c = 3
show("e = (a+b)(b+1) at a=2, b=1", c * d, v)  # b's gradient adds up: 2·1 + 3·1 = 5

v = leaves(a=5.0, b=3.0, c=2.0)
show("J = 3(a + bc) at a=5, b=3, c=2", 3 * (v["a"] + v["b"] * v["c"]), v)

v = leaves(x=-2.0, y=5.0, z=-4.0)
show("f = (x+y)z at x=-2, y=5, z=-4", (v["x"] + v["y"]) * v["z"], v)

# The sigmoid neuron: a dot product plus a bias, through σ. σ'(z) = σ(z)(1 - σ(z)).
w = cr.tensor([2.0, -3.0, -3.0], dtype=cr.float64, requires_grad=True)
x = cr.tensor([-1.0, -2.0], dtype=cr.float64, requires_grad=True)
f = cr.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
f.backward()
print(f"{'sigmoid neuron σ(w0 x0 + w1 x1 + w2)':<36} value {f.item():.2f}")
print(f"  local gradient σ(1)(1 - σ(1)) = {f.item() * (1 - f.item()):.4f}")
print(f"  df/dw = {[round(g, 4) for g in w.grad.tolist()]}   (x times it, and 1 times it for w2)")
print(f"  df/dx = {[round(g, 4) for g in x.grad.tolist()]}   (w0, w1 times it)")

print("\nThe first example step by step (chainrule explain):\n")
print(explain("(a+b)*(b+1)", a=2, b=1).report(paths=True))
