# After pytorch/tutorials, beginner_source/examples_nn/dynamic_net.py: a polynomial whose degree
# is drawn at random on each forward pass, reusing one Parameter; SGD with momentum.
import math
import os
import random

import numpy as np
import torch

steps = int(os.environ.get("PORTING_STEPS", 30000))
INIT = np.random.default_rng(5).standard_normal(5).astype(np.float32)


class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        for name, v in zip("abcde", INIT):
            setattr(self, name, torch.nn.Parameter(torch.tensor(v)))

    def forward(self, x):
        y = self.a + self.b * x + self.c * x**2 + self.d * x**3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x**exp
        return y


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
model = DynamicNet()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
for t in range(steps):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print("Result:", [round(p.item(), 6) for p in model.parameters()])
