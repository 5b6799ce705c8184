# After yunjey/pytorch-tutorial, tutorials/02-intermediate/deep_residual_network/main.py: conv3x3,
# ResidualBlock (BatchNorm2d, ReLU(inplace=True), an optional downsample Sequential, out +=
# residual), ResNet with make_layer and AvgPool2d, CrossEntropyLoss and Adam, update_lr through
# param_groups, the train/eval loops with torch.max(outputs.data, 1), and the state_dict saved to
# resnet.ckpt. Its CIFAR-10 is Fashion-MNIST's test file read by NumPy (one channel, halved to
# 14x14 and padded to 16x16, no random flips or crops); the widths are 8/16/32 instead of 16/32/64, and the shuffle
# and the initial weights come from NumPy.
# ruff: noqa: B007, UP008, UP032  (the original's idioms, kept)
import gzip
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn

# Device configuration
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# Hyper-parameters
num_epochs = max(2, int(os.environ.get("PORTING_STEPS", 2000)) // 150)
batch_size = 8
learning_rate = 0.001

# CIFAR-10 dataset (here Fashion-MNIST, transforms.Pad(2) and ToTensor() done by NumPy)
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:64]
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:64].astype(np.int64)
images = images.reshape(-1, 1, 14, 2, 14, 2).mean(axis=(3, 5))  # 14x14, then padded to 16x16
images = np.pad(images / 255.0, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.float32)
train_dataset = torch.utils.data.TensorDataset(
    torch.from_numpy(images[:16]), torch.from_numpy(labels[:16])
)
test_dataset = torch.utils.data.TensorDataset(
    torch.from_numpy(images[32:]), torch.from_numpy(labels[32:])
)
rng = np.random.default_rng(0)

# Data loader
train_loader = torch.utils.data.DataLoader(
    dataset=train_dataset, batch_size=batch_size, sampler=rng.permutation(16).tolist()
)

test_loader = torch.utils.data.DataLoader(
    dataset=test_dataset, batch_size=batch_size, shuffle=False
)


# 3x3 convolution
def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


# Residual block
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, downsample=None):
        super(ResidualBlock, self).__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.downsample:
            residual = self.downsample(x)
        out += residual
        out = self.relu(out)
        return out


# ResNet
class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10):
        super(ResNet, self).__init__()
        self.in_channels = 8
        self.conv = conv3x3(1, 8)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self.make_layer(block, 8, layers[0])
        self.layer2 = self.make_layer(block, 16, layers[1], 2)
        self.layer3 = self.make_layer(block, 32, layers[2], 2)
        self.avg_pool = nn.AvgPool2d(4)
        self.fc = nn.Linear(32, num_classes)

    def make_layer(self, block, out_channels, blocks, stride=1):
        downsample = None
        if (stride != 1) or (self.in_channels != out_channels):
            downsample = nn.Sequential(
                conv3x3(self.in_channels, out_channels, stride=stride), nn.BatchNorm2d(out_channels)
            )
        layers = []
        layers.append(block(self.in_channels, out_channels, stride, downsample))
        self.in_channels = out_channels
        for i in range(1, blocks):
            layers.append(block(out_channels, out_channels))
        return nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv(x)
        out = self.bn(out)
        out = self.relu(out)
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = self.avg_pool(out)
        out = out.view(out.size(0), -1)
        out = self.fc(out)
        return out


model = ResNet(ResidualBlock, [2, 2, 2]).to(device)
with torch.no_grad():  # the same starting point in both runs
    for name, p in model.named_parameters():
        if p.dim() > 1:
            bound = 1.0 / np.sqrt(p[0].numel())
            p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)), dtype=torch.float32))
        elif name.endswith("bias"):
            p.zero_()


# Loss and optimizer
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)


# For updating learning rate
def update_lr(optimizer, lr):
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


# Train the model
total_step = len(train_loader)
curr_lr = learning_rate
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images = images.to(device)
        labels = labels.to(device)

        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)

        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        if (i + 1) % 1 == 0:
            print(
                "Epoch [{}/{}], Step [{}/{}] Loss: {:.4f}".format(
                    epoch + 1, num_epochs, i + 1, total_step, loss.item()
                )
            )

    # Decay learning rate
    if (epoch + 1) % 2 == 0:
        curr_lr /= 3
        update_lr(optimizer, curr_lr)

# Test the model
model.eval()
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        images = images.to(device)
        labels = labels.to(device)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

    print("Accuracy of the model on the test images: {} %".format(100 * correct / total))
    print("Mean test logit: {:.4f}".format(outputs.mean().item()))

# Save the model checkpoint
with tempfile.TemporaryDirectory() as tmp:
    torch.save(model.state_dict(), os.path.join(tmp, "resnet.ckpt"))
    model.load_state_dict(torch.load(os.path.join(tmp, "resnet.ckpt")))
    print(
        "running means restored:",
        model.bn.running_mean.shape,
        "{:.4f}".format(model.layer3[1].bn2.running_var.sum().item()),
    )
