"""The forward pass of a 2-2-1 network, by hand-set weights, at the four binary inputs.

    hidden h = σ(x W + b)      W = [[4, 4], [4, 4]],  b = [3, -3]
    output o = h V + c         V = [[1], [1]],        c = [0.1]

Both hidden units see the same weighted sum 4(x1 + x2), shifted by +3 or -3, so the network can
only respond to how many inputs are on: o grows with x1 + x2. That is a smooth "count of ones",
not XOR: (0,1) and (1,0) give the same output, and (1,1) gives more, not less. XOR needs one
hidden unit to act as OR and the other as AND, and the output to take their difference; the last
table shows such weights (same W, biases [-2, -6], V = [[1], [-1]]).
Run: python examples/forward_network.py
"""

import chainrule as cr

X = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # the four inputs, (N=4, D=2)


def forward(W, b, V, c):
    """h: (N, 2) hidden activations, o: (N, 1) outputs, for all four inputs at once."""
    h = cr.sigmoid(X @ cr.tensor(W) + cr.tensor(b))
    o = h @ cr.tensor(V) + cr.tensor(c)
    return h, o


def table(title: str, h, o) -> None:
    print(title)
    print(f"  {'x1':>3} {'x2':>3} {'h1':>8} {'h2':>8} {'output':>8}")
    for x, hh, oo in zip(X.tolist(), h.tolist(), o.tolist()):
        print(f"  {x[0]:>3.0f} {x[1]:>3.0f} {hh[0]:>8.4f} {hh[1]:>8.4f} {oo[0]:>8.4f}")


W = [[4.0, 4.0], [4.0, 4.0]]
h, o = forward(W, [3.0, -3.0], [[1.0], [1.0]], [0.1])
table("The network W=[[4,4],[4,4]], b=[3,-3], V=[[1],[1]], c=[0.1]:", h, o)
out = o.numpy().ravel()
same = abs(out[1] - out[2]) < 1e-6
print(
    f"  (0,1) and (1,0) give the same output: {same}; outputs grow with x1+x2: "
    f"{bool(out[0] < out[1] < out[3])} -> a count of ones, not XOR\n"
)

h, o = forward(W, [-2.0, -6.0], [[1.0], [-1.0]], [0.0])
table("XOR-like: the same W, b=[-2,-6] (h1 ~ OR, h2 ~ AND), V=[[1],[-1]], c=[0]:", h, o)
out = o.numpy().ravel()
print(f"  high for exactly one input on: {bool(min(out[1], out[2]) > 0.5 > max(out[0], out[3]))}")
