# After pytorch/examples, vae/main.py: the MLP variational autoencoder (fc1, fc21/fc22 for mu and
# logvar, reparameterize with exp(0.5*logvar), sigmoid decoder), binary_cross_entropy with
# reduction='sum' plus the KL term, Adam, the train/test loops with their printing, torch.cat of
# inputs and reconstructions, and sampling from the prior. Its MNIST is Fashion-MNIST's test file
# read by NumPy (512 images to train, 128 to test); the noise (randn_like, randn) and the
# shuffle come from NumPy so that both runs draw the same.
# ruff: noqa: UP008, UP032  (the original's idioms, kept)
import argparse
import gzip
import os

import numpy as np
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F

steps = int(os.environ.get("PORTING_STEPS", 2000))
parser = argparse.ArgumentParser(description="VAE MNIST Example")
parser.add_argument(
    "--batch-size",
    type=int,
    default=128,
    metavar="N",
    help="input batch size for training (default: 128)",
)
parser.add_argument(
    "--epochs", type=int, default=10, metavar="N", help="number of epochs to train (default: 10)"
)
parser.add_argument("--no-cuda", action="store_true", default=False, help="enables CUDA training")
parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
parser.add_argument(
    "--log-interval",
    type=int,
    default=10,
    metavar="N",
    help="how many batches to wait before logging training status",
)
args = parser.parse_args(["--epochs", str(max(1, steps // 300)), "--log-interval", "1"])
args.cuda = not args.no_cuda and torch.cuda.is_available()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)

device = torch.device("cuda" if args.cuda else "cpu")

# datasets.MNIST(..., transform=transforms.ToTensor()): images in [0, 1], shape (1, 28, 28)
with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:640] / 255.0
images = torch.tensor(images, dtype=torch.float32)
train_set = torch.utils.data.TensorDataset(images[:512], torch.zeros(512))
test_set = torch.utils.data.TensorDataset(images[512:], torch.zeros(128))

kwargs = {"num_workers": 1, "pin_memory": True} if args.cuda else {}
train_loader = torch.utils.data.DataLoader(
    train_set, batch_size=args.batch_size, sampler=rng.permutation(512).tolist(), **kwargs
)
test_loader = torch.utils.data.DataLoader(
    test_set, batch_size=args.batch_size, sampler=rng.permutation(128).tolist(), **kwargs
)


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.from_numpy(rng.standard_normal(std.shape, dtype=np.float32))  # randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
with torch.no_grad():  # the same starting point in both runs
    for p in model.parameters():
        bound = 1.0 / np.sqrt(p.shape[-1])
        p.copy_(torch.tensor(rng.uniform(-bound, bound, tuple(p.shape)), dtype=torch.float32))
optimizer = optim.Adam(model.parameters(), lr=1e-3)


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # https://arxiv.org/abs/1312.6114
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print(
                "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                    epoch,
                    batch_idx * len(data),
                    len(train_loader.dataset),
                    100.0 * batch_idx / len(train_loader),
                    loss.item() / len(data),
                )
            )

    print(
        "====> Epoch: {} Average loss: {:.4f}".format(epoch, train_loss / len(train_loader.dataset))
    )


def test(epoch):
    model.eval()
    test_loss = 0
    with torch.no_grad():
        for i, (data, _) in enumerate(test_loader):
            data = data.to(device)
            recon_batch, mu, logvar = model(data)
            test_loss += loss_function(recon_batch, data, mu, logvar).item()
            if i == 0:
                n = min(data.size(0), 8)
                comparison = torch.cat([data[:n], recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
                print("reconstruction", comparison.shape, "{:.4f}".format(comparison.sum().item()))

    test_loss /= len(test_loader.dataset)
    print("====> Test set loss: {:.4f}".format(test_loss))


if __name__ == "__main__":
    for epoch in range(1, args.epochs + 1):
        train(epoch)
        test(epoch)
        with torch.no_grad():
            sample = torch.from_numpy(rng.standard_normal((64, 20), dtype=np.float32)).to(device)
            sample = model.decode(sample).cpu()
            print("sample", sample.view(64, 1, 28, 28).shape, "{:.4f}".format(sample.mean().item()))
