# After pytorch/tutorials, beginner_source/examples_nn/polynomial_module.py: the cubic as a
# custom nn.Module with four scalar Parameters, trained by torch.optim.SGD.
import math
import os

import numpy as np
import torch

steps = int(os.environ.get("PORTING_STEPS", 2000))
INIT = np.random.default_rng(4).standard_normal(4).astype(np.float32)


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(INIT[0]))
        self.b = torch.nn.Parameter(torch.tensor(INIT[1]))
        self.c = torch.nn.Parameter(torch.tensor(INIT[2]))
        self.d = torch.nn.Parameter(torch.tensor(INIT[3]))

    def forward(self, x):
        return self.a + self.b * x + self.c * x**2 + self.d * x**3

    def string(self):
        return (
            f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
        )


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
model = Polynomial3()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for t in range(steps):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

print(f"Result: {model.string()}")
