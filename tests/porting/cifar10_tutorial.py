# After pytorch/tutorials, beginner_source/blitz/cifar10_tutorial.py ("Training a Classifier"):
# the tutorial's Net (Conv2d, MaxPool2d, torch.flatten, three Linear layers), CrossEntropyLoss and
# SGD with momentum, next(iter(trainloader)), class names indexed by label tensors, the running
# loss, torch.save of the state_dict to cifar_net.pth and load_state_dict(torch.load(PATH,
# weights_only=True)), torch.max(outputs, 1), and the per-class accuracy loop over
# zip(labels, predictions) with `if label == prediction`. CIFAR-10 is a download: the images here
# are NumPy's (uint8, a colour per class plus noise) given ToTensor's and Normalize's arithmetic;
# the shuffle and the initial weights come from NumPy, and the loss is printed every 5 batches.
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

rng = np.random.default_rng(0)
batch_size = 4
classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def fake_cifar(n):
    # transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    targets = np.arange(n) % 10
    colours = rng.integers(0, 256, (10, 3, 1, 1))
    pixels = np.clip(colours[targets] + rng.normal(0, 60, (n, 3, 32, 32)), 0, 255).astype(np.uint8)
    images = (pixels / 255.0 - 0.5) / 0.5
    return torch.utils.data.TensorDataset(
        torch.tensor(images, dtype=torch.float32), torch.tensor(targets)
    )


trainset = fake_cifar(20)
trainloader = torch.utils.data.DataLoader(
    trainset, batch_size=batch_size, sampler=rng.permutation(20).tolist(), num_workers=0
)
testset = fake_cifar(20)
testloader = torch.utils.data.DataLoader(
    testset, batch_size=batch_size, shuffle=False, num_workers=0
)

# get some random training images
dataiter = iter(trainloader)
images, labels = next(dataiter)

# print labels
print(" ".join(f"{classes[labels[j]]:5s}" for j in range(batch_size)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()
with torch.no_grad():  # the same starting point in both runs
    for p in net.parameters():
        bound = 1.0 / np.sqrt(p[0].numel()) if p.dim() > 1 else 0.05
        p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)), dtype=torch.float32))

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

for epoch in range(
    max(2, int(os.environ.get("PORTING_STEPS", 2000)) // 250)
):  # loop over the dataset multiple times
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        # print statistics
        running_loss += loss.item()
        if i % 5 == 4:  # print every 5 mini-batches
            print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 5:.3f}")
            running_loss = 0.0

print("Finished Training")

tmp = tempfile.mkdtemp()
PATH = os.path.join(tmp, "cifar_net.pth")
torch.save(net.state_dict(), PATH)

dataiter = iter(testloader)
images, labels = next(dataiter)

# print images
print("GroundTruth: ", " ".join(f"{classes[labels[j]]:5s}" for j in range(4)))

net = Net()
net.load_state_dict(torch.load(PATH, weights_only=True))

outputs = net(images)

_, predicted = torch.max(outputs, 1)

print("Predicted: ", " ".join(f"{classes[predicted[j]]:5s}" for j in range(4)))

correct = 0
total = 0
# since we're not training, we don't need to calculate the gradients for our outputs
with torch.no_grad():
    for data in testloader:
        images, labels = data
        # calculate outputs by running images through the network
        outputs = net(images)
        # the class with the highest energy is what we choose as prediction
        _, predicted = torch.max(outputs, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f"Accuracy of the network on the 10000 test images: {100 * correct // total} %")

# prepare to count predictions for each class
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}

# again no gradients needed
with torch.no_grad():
    for data in testloader:
        images, labels = data
        outputs = net(images)
        _, predictions = torch.max(outputs, 1)
        # collect the correct predictions for each class
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                correct_pred[classes[label]] += 1
            total_pred[classes[label]] += 1


# print accuracy for each class
for classname, correct_count in correct_pred.items():
    accuracy = 100 * float(correct_count) / total_pred[classname]
    print(f"Accuracy for class: {classname:5s} is {accuracy:.1f} %")

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
print(device)
