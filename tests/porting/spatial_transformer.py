# After pytorch/tutorials, intermediate_source/spatial_transformer_tutorial.py ("Spatial
# Transformer Networks Tutorial"): a localization net (Conv2d, MaxPool2d, ReLU(True)) regressing
# a 2x3 affine matrix initialised to the identity through .weight.data.zero_() and
# .bias.data.copy_(), F.affine_grid and F.grid_sample, the classifier with nn.Dropout2d and
# F.dropout(training=self.training), nll_loss with the legacy size_average=False in the test
# loop, output.max(1, keepdim=True)[1] and pred.eq(target.view_as(pred)). Its MNIST is
# Fashion-MNIST's test file read by NumPy (128 images to train, 64 to test); the dropout
# probabilities are 0 (no random masks), and the shuffle and initial weights come from NumPy.
# ruff: noqa: UP008, UP032  (the original's idioms, kept)
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
rng = np.random.default_rng(0)

# datasets.MNIST with transforms.ToTensor() and transforms.Normalize((0.1307,), (0.3081,))
root = "/usr/share/datasets/fashion-mnist"
with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:192]
with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:192].astype(np.int64)
images = torch.tensor((images / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)
labels = torch.tensor(labels)
train_set = torch.utils.data.TensorDataset(images[:128], labels[:128])
test_set = torch.utils.data.TensorDataset(images[128:], labels[128:])
train_loader = torch.utils.data.DataLoader(
    train_set, batch_size=32, sampler=rng.permutation(128).tolist(), num_workers=0
)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=32, shuffle=False)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(p=0.0)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

        # Spatial transformer localization-network
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
        )

        # Regressor for the 3 * 2 affine matrix
        self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, 3 * 2))

        # Initialize the weights/bias with identity transformation
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    # Spatial transformer network forward function
    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)

        grid = F.affine_grid(theta, x.size())
        x = F.grid_sample(x, grid)

        return x

    def forward(self, x):
        # transform the input
        x = self.stn(x)

        # Perform the usual forward pass
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, p=0.0, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


model = Net().to(device)
with torch.no_grad():  # the same starting point in both runs (fc_loc[2] keeps the identity)
    for name, p in model.named_parameters():
        if not name.startswith("fc_loc.2"):
            bound = 1.0 / np.sqrt(p[0].numel()) if p.dim() > 1 else 0.05
            p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)), dtype=torch.float32))

optimizer = optim.SGD(model.parameters(), lr=0.01)


def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)

        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % 2 == 0:
            print(
                "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                    epoch,
                    batch_idx * len(data),
                    len(train_loader.dataset),
                    100.0 * batch_idx / len(train_loader),
                    loss.item(),
                )
            )


#
# A simple test procedure to measure the STN performances on MNIST.
#


def test():
    with torch.no_grad():
        model.eval()
        test_loss = 0
        correct = 0
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)

            # sum up batch loss
            test_loss += F.nll_loss(output, target, size_average=False).item()
            # get the index of the max log-probability
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()

        test_loss /= len(test_loader.dataset)
        print(
            "\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
                test_loss,
                correct,
                len(test_loader.dataset),
                100.0 * correct / len(test_loader.dataset),
            )
        )


for epoch in range(1, max(2, int(os.environ.get("PORTING_STEPS", 2000)) // 300) + 1):
    train(epoch)
    test()

# the transformation learned, as visualize_stn would show it
with torch.no_grad():
    data = next(iter(test_loader))[0].to(device)
    transformed = model.stn(data).cpu()
    print("transformed batch:", transformed.shape, "{:.4f}".format(transformed.abs().mean().item()))
