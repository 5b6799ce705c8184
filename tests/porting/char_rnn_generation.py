# After pytorch/tutorials, intermediate_source/char_rnn_generation_tutorial.py ("NLP From
# Scratch: Generating Names with a Character-Level RNN"): names read from data/names/*.txt with
# glob and unicodeToAscii, one-hot category and letter tensors filled by item assignment, the RNN
# of i2h/i2o/o2o Linears with LogSoftmax(dim=1), target_line_tensor.unsqueeze_(-1), the loss
# summed in loss = torch.Tensor([0]); loss += l, the hand-written update
# p.data.add_(p.grad.data, alpha=-learning_rate), random training pairs from Python's random
# (seeded alike in both runs), and sampling with topk under no_grad. The names are a few common
# surnames per language written here (the tutorial's file is a download); 32 hidden units,
# dropout 0 (no random masks), initial weights from NumPy, and no timings printed.
# ruff: noqa: B007, RUF059, UP008, UP031  (the original's idioms, kept)
import glob
import os
import random
import string
import tempfile
import unicodedata

import numpy as np
import torch
import torch.nn as nn

names = {
    "English": "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright",
    "German": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann",
    "Spanish": "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín",
    "Russian": "Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fedorov",
}
root = os.path.join(tempfile.gettempdir(), "porting_char_rnn")
os.makedirs(os.path.join(root, "data", "names"), exist_ok=True)
for language, line in names.items():
    with open(os.path.join(root, "data", "names", language + ".txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(line.split()) + "\n")

all_letters = string.ascii_letters + " .,;'-"
n_letters = len(all_letters) + 1  # Plus EOS marker


def findFiles(path):
    return glob.glob(path)


# Turn a Unicode string to plain ASCII, thanks to https://stackoverflow.com/a/518232/2809427
def unicodeToAscii(s):
    return "".join(
        c
        for c in unicodedata.normalize("NFD", s)
        if unicodedata.category(c) != "Mn" and c in all_letters
    )


# Read a file and split into lines
def readLines(filename):
    with open(filename, encoding="utf-8") as some_file:
        return [unicodeToAscii(line.strip()) for line in some_file]


# Build the category_lines dictionary, a list of lines per category
category_lines = {}
all_categories = []
for filename in sorted(findFiles(os.path.join(root, "data", "names", "*.txt"))):
    category = os.path.splitext(os.path.basename(filename))[0]
    all_categories.append(category)
    lines = readLines(filename)
    category_lines[category] = lines

n_categories = len(all_categories)

if n_categories == 0:
    raise RuntimeError(
        "Data not found. Make sure that you downloaded data "
        "from https://download.pytorch.org/tutorial/data.zip and extract it to "
        "the current directory."
    )

print("# categories:", n_categories, all_categories)
print(unicodeToAscii("O'Néàl"))


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size

        self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(0.0)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, input, hidden):
        input_combined = torch.cat((category, input, hidden), 1)
        hidden = self.i2h(input_combined)
        output = self.i2o(input_combined)
        output_combined = torch.cat((hidden, output), 1)
        output = self.o2o(output_combined)
        output = self.dropout(output)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


# Random item from a list
def randomChoice(l):
    return l[random.randint(0, len(l) - 1)]


# Get a random category and random line from that category
def randomTrainingPair():
    category = randomChoice(all_categories)
    line = randomChoice(category_lines[category])
    return category, line


# One-hot vector for category
def categoryTensor(category):
    li = all_categories.index(category)
    tensor = torch.zeros(1, n_categories)
    tensor[0][li] = 1
    return tensor


# One-hot matrix of first to last letters (not including EOS) for input
def inputTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li in range(len(line)):
        letter = line[li]
        tensor[li][0][all_letters.find(letter)] = 1
    return tensor


# ``LongTensor`` of second letter to end (EOS) for target
def targetTensor(line):
    letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
    letter_indexes.append(n_letters - 1)  # EOS
    return torch.LongTensor(letter_indexes)


# Make category, input, and target tensors from a random category, line pair
def randomTrainingExample():
    category, line = randomTrainingPair()
    category_tensor = categoryTensor(category)
    input_line_tensor = inputTensor(line)
    target_line_tensor = targetTensor(line)
    return category_tensor, input_line_tensor, target_line_tensor


criterion = nn.NLLLoss()

learning_rate = 0.005


def train(category_tensor, input_line_tensor, target_line_tensor):
    target_line_tensor.unsqueeze_(-1)
    hidden = rnn.initHidden()

    rnn.zero_grad()

    loss = torch.Tensor([0])  # you can also just simply use ``loss = 0``

    for i in range(input_line_tensor.size(0)):
        output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
        l = criterion(output, target_line_tensor[i])
        loss += l

    loss.backward()

    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)

    return output, loss.item() / input_line_tensor.size(0)


rnn = RNN(n_letters, 32, n_letters)
rng = np.random.default_rng(0)
with torch.no_grad():  # the same starting point in both runs
    for p in rnn.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.1, 0.1, tuple(p.shape)), dtype=torch.float32))

n_iters = int(os.environ.get("PORTING_STEPS", 2000))
print_every = n_iters // 6
plot_every = n_iters // 12
all_losses = []
total_loss = 0  # Reset every ``plot_every`` ``iters``

for iter in range(1, n_iters + 1):
    output, loss = train(*randomTrainingExample())
    total_loss += loss

    if iter % print_every == 0:
        print("(%d %d%%) %.4f" % (iter, iter / n_iters * 100, loss))

    if iter % plot_every == 0:
        all_losses.append(total_loss / plot_every)
        total_loss = 0

print(["%.4f" % x for x in all_losses])

max_length = 20


# Sample from a category and starting letter
def sample(category, start_letter="A"):
    with torch.no_grad():  # no need to track history in sampling
        category_tensor = categoryTensor(category)
        input = inputTensor(start_letter)
        hidden = rnn.initHidden()

        output_name = start_letter

        for i in range(max_length):
            output, hidden = rnn(category_tensor, input[0], hidden)
            topv, topi = output.topk(1)
            topi = topi[0][0]
            if topi == n_letters - 1:
                break
            else:
                letter = all_letters[topi]
                output_name += letter
            input = inputTensor(letter)

        return output_name


# Get multiple samples from one category and multiple starting letters
def samples(category, start_letters="ABC"):
    for start_letter in start_letters:
        print(sample(category, start_letter))


samples("Russian", "RUS")

samples("German", "GER")

samples("Spanish", "SPA")
