# After pytorch/examples, time_sequence_prediction (generate_sine_wave.py and train.py): sine
# waves made by NumPy and saved with torch.save (a NumPy array in traindata.pt), read back with
# torch.load and torch.from_numpy, a Sequence of two LSTMCells and a Linear in double precision
# stepping through input.split(1, dim=1), predicting the future from its own output, MSELoss,
# LBFGS with a closure that prints the loss, and the prediction taken out with
# .detach().numpy(). Smaller than the original: 12 waves of 60 points, 16 hidden units instead of
# 51, 20 future steps, the initial weights from NumPy; no plots.
# ruff: noqa: B007, NPY002, UP008  (the original's idioms, kept)
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

# generate_sine_wave.py
np.random.seed(2)

T = 20
L = 60
N = 12

x = np.empty((N, L), "int64")
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype("float64")
tmp = tempfile.mkdtemp()
torch.save(data, open(os.path.join(tmp, "traindata.pt"), "wb"))

H = 16


class Sequence(nn.Module):
    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, H)
        self.lstm2 = nn.LSTMCell(H, H)
        self.linear = nn.Linear(H, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), H, dtype=torch.double)
        c_t = torch.zeros(input.size(0), H, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), H, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), H, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=15, help="steps to run")
    opt = parser.parse_args(
        ["--steps", str(max(2, int(os.environ.get("PORTING_STEPS", 2000)) // 150))]
    )
    # set random seed to 0
    np.random.seed(0)
    torch.manual_seed(0)
    # load data and make training set
    data = torch.load(os.path.join(tmp, "traindata.pt"), weights_only=False)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    # build the model
    seq = Sequence()
    seq.double()
    with torch.no_grad():  # the same starting point in both runs
        for p in seq.parameters():
            p.copy_(torch.from_numpy(np.random.uniform(-0.25, 0.25, tuple(p.shape))))
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    # begin to train
    for i in range(opt.steps):
        print("STEP: ", i)

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            print("loss:", loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            future = 20
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print("test loss:", loss.item())
            y = pred.detach().numpy()
        print("predicted future:", y.shape, np.round(y[:, -3:], 6).tolist())
