# After pytorch/tutorials, beginner_source/examples_autograd/polynomial_autograd.py: the same fit
# with autograd, the update by hand under no_grad. (The tutorial's current text resets the
# gradients with `a.grad = 0.`, which PyTorch 2 itself refuses; this resets them to None.)
import math
import os

import numpy as np
import torch

steps = int(os.environ.get("PORTING_STEPS", 2000))
dtype = torch.float
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")
torch.set_default_device(device)

x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
init = np.random.default_rng(1).standard_normal(4)
a, b, c, d = (torch.tensor(v, dtype=dtype, requires_grad=True) for v in init)

lr = 1e-6
for t in range(steps):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad
        b -= lr * b.grad
        c -= lr * c.grad
        d -= lr * d.grad
        a.grad, b.grad, c.grad, d.grad = None, None, None, None

print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
