"""A picture of one MLP training step: the graph from the batch to the loss, with every forward
value (green) and gradient (red), the ops of each layer in a box under the layer's name.

    cr.viz.draw(loss, modules=model) -> a Graph: .save("step.png"), .source (DOT), inline in Jupyter

Run: python examples/draw_mlp_step.py [--out mlp_step.png]
"""

import argparse

import chainrule as cr
from chainrule import nn


class MLP(nn.Module):
    """4 -> 8 -> 3 with a ReLU between the layers."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="mlp_step.png", help="the picture (.png, .svg, .pdf, .dot)")
args = parser.parse_args()

cr.manual_seed(0)
model = MLP()
x = cr.randn(16, 4)  # a batch of N=16 examples with D=4 features
x.name = "x (batch)"  # a tensor's name labels its node
y = cr.tensor([0, 1, 2, 1] * 4)
loss = nn.functional.cross_entropy(model(x), y)

graph = cr.viz.draw(loss, modules=model, title="one MLP step: cross-entropy loss")
print(f"loss {loss.item():.4f}; the graph has {graph.nodes} nodes")
print(f"boxes: {', '.join(n for n, _ in model.named_children())}")
try:
    print(f"picture saved to {graph.save(args.out)}")
except cr.viz.GraphvizNotFoundError as e:  # no Graphviz: the DOT text was written instead
    print(e)

# The gradients on the picture are the engine's; backward() gives the same in .grad.
loss.backward()
print(f"fc2.bias.grad = {[round(v, 4) for v in model.fc2.bias.grad.tolist()]}")
