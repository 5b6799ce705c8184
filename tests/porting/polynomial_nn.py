# After pytorch/tutorials, beginner_source/examples_nn/polynomial_nn.py: the cubic as
# nn.Linear(3, 1) on the features (x, x^2, x^3), updated by hand under no_grad.
import math
import os

import numpy as np
import torch

steps = int(os.environ.get("PORTING_STEPS", 2000))
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
rng = np.random.default_rng(2)
with torch.no_grad():  # the same starting point in both runs
    model[0].weight.copy_(torch.tensor(rng.uniform(-0.5, 0.5, (1, 3))))
    model[0].bias.fill_(0.1)
loss_fn = torch.nn.MSELoss(reduction="sum")

lr = 1e-6
for t in range(steps):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= lr * param.grad

layer = model[0]
print(
    f"Result: y = {layer.bias.item()} + {layer.weight[:, 0].item()} x + "
    f"{layer.weight[:, 1].item()} x^2 + {layer.weight[:, 2].item()} x^3"
)
