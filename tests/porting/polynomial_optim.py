# After pytorch/tutorials, beginner_source/examples_nn/polynomial_optim.py (in the version that
# used RMSprop): the nn.Linear cubic trained by an optimiser from torch.optim.
import math
import os

import numpy as np
import torch

# 1,000 steps, not the tutorial's 2,000: once a gradient nears zero, RMSprop's step is about
# ±lr whatever the gradient's size, so its sign decides it and the last bits of rounding grow
# into visible differences (in float64 too, after step 1,100, where torch and chainrule agree to
# 1e-15 before). At 2,000 steps the two final losses still agree to 0.2%.
steps = int(os.environ.get("PORTING_STEPS", 1000))
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))

model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
state = model.state_dict()
rng = np.random.default_rng(3)
state["0.weight"] = torch.tensor(rng.uniform(-0.5, 0.5, (1, 3)), dtype=torch.float32)
state["0.bias"] = torch.tensor([0.2])
model.load_state_dict(state)
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

for t in range(steps):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

layer = model[0]
print(
    f"Result: y = {layer.bias.item()} + {layer.weight[:, 0].item()} x + "
    f"{layer.weight[:, 1].item()} x^2 + {layer.weight[:, 2].item()} x^3"
)
