# After pytorch/tutorials, beginner_source/saving_loading_models.py ("Saving & Loading a General
# Checkpoint for Inference and/or Resuming Training") and recipes_source/recipes/
# saving_and_loading_a_general_checkpoint.py: the tutorials' CIFAR Net trained with SGD and
# momentum, a dict of epoch, model_state_dict, optimizer_state_dict and the last loss (a tensor)
# saved with torch.save to model.pt, then a new model and optimizer given the state with
# load_state_dict(torch.load(PATH, weights_only=True)), model.train(), and training resumed; the
# resumed run must print what an uninterrupted run prints. The images are random (seeded NumPy)
# with labels the net can learn, and the initial weights come from NumPy.
# ruff: noqa: B020, UP008  (the original's idioms, kept)
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

rng = np.random.default_rng(0)
EPOCHS = max(1, int(os.environ.get("PORTING_STEPS", 2000)) // 300)
labels = torch.tensor(rng.integers(0, 10, 32))
images = torch.tensor(rng.normal(0.0, 1.0, (32, 3, 32, 32)), dtype=torch.float32)
images[:, 0, :4, :4] += labels.view(-1, 1, 1).float()  # a corner that tells the class
batches = [(images[i : i + 16], labels[i : i + 16]) for i in range(0, 32, 16)]


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(start_dim=1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


start = [rng.uniform(-0.1, 0.1, tuple(p.shape)) for p in Net().parameters()]


def new_net():
    net = Net()
    with torch.no_grad():  # the same starting point in both runs
        for p, value in zip(net.parameters(), start):
            p.copy_(torch.tensor(value, dtype=torch.float32))
    return net


criterion = nn.CrossEntropyLoss()


def train_epoch(model, optimizer, epoch):
    model.train()
    running_loss = 0.0
    for inputs, labels in batches:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    print(f"[{epoch + 1}] loss: {running_loss / len(batches):.4f}")
    return loss


# the run that is not interrupted
net = new_net()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2 * EPOCHS):
    loss = train_epoch(net, optimizer, epoch)

# the run that stops after EPOCHS epochs, saves a general checkpoint and is resumed
net = new_net()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(EPOCHS):
    loss = train_epoch(net, optimizer, epoch)

with tempfile.TemporaryDirectory() as tmp:
    PATH = os.path.join(tmp, "model.pt")
    torch.save(
        {
            "epoch": epoch,
            "model_state_dict": net.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "loss": loss,
        },
        PATH,
    )

    model = Net()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    checkpoint = torch.load(PATH, weights_only=True)
    model.load_state_dict(checkpoint["model_state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    epoch = checkpoint["epoch"]
    loss = checkpoint["loss"]

model.eval()
# - or -
model.train()
print(f"resuming after epoch {epoch + 1}, last loss {loss:.4f}, {type(loss).__name__}")
for epoch in range(epoch + 1, 2 * EPOCHS):
    loss = train_epoch(model, optimizer, epoch)
