# After pytorch/examples, regression/main.py: a degree-4 polynomial recovered by nn.Linear on
# random batches with smooth L1 loss and a hand-written update. (The stored original updates with
# `param.add_(...)` outside no_grad, which PyTorch refuses for a leaf: this shows that refusal,
# then trains with the update under no_grad.)
import os
from itertools import count

import numpy as np
import torch
import torch.nn.functional as F

steps = int(os.environ.get("PORTING_STEPS", 2000))
DEGREE = 4
rng = np.random.default_rng(6)
W_target = torch.tensor(rng.standard_normal((DEGREE, 1)), dtype=torch.float32) * 5
b_target = torch.tensor(rng.standard_normal(1), dtype=torch.float32) * 5


def make_features(x):
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, DEGREE + 1)], 1)


def f(x):
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    result = "y = "
    for i, w in enumerate(W):
        result += f"{w:+.2f} x^{i + 1} "
    return result + f"{b[0]:+.2f}"


def get_batch(batch_size=32):
    x = make_features(torch.tensor(rng.standard_normal(batch_size), dtype=torch.float32))
    return x, f(x)


fc = torch.nn.Linear(W_target.size(0), 1)
with torch.no_grad():
    fc.weight.zero_()
    fc.bias.zero_()

batch_x, batch_y = get_batch()
F.smooth_l1_loss(fc(batch_x), batch_y).backward()
try:
    fc.weight.add_(-0.1 * fc.weight.grad)
except RuntimeError:
    print("refused: an in-place update of a leaf that requires grad")

for batch_idx in count(1):
    batch_x, batch_y = get_batch()
    fc.zero_grad()
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    loss = output.item()
    output.backward()
    with torch.no_grad():
        for param in fc.parameters():
            param.add_(-0.1 * param.grad)
    if loss < 1e-3 or batch_idx >= steps:
        break

print(f"Loss: {loss:.6f} after {batch_idx} batches")
print("==> Learned function:\t" + poly_desc(fc.weight.view(-1), fc.bias))
print("==> Actual function:\t" + poly_desc(W_target.view(-1), b_target))
