"""Seconds per training epoch on Fashion-MNIST, chainrule vs PyTorch (CPU), same workload, one run.

Workloads (issue "Learning"):
  nielsen: [784, 30, 10] sigmoid network, quadratic cost, plain SGD eta=3.0, batch 10, 50,000 images
  mlp:     784-256-256-10 ReLU, cross-entropy, Adam lr 1e-3, batch 128, 50,000 images

Both frameworks see the same batches in the same order (one shared permutation) and take the same
steps, written the idiomatic way in each (modules, loss, backward, optimiser step).

    .venv/bin/python benchmarks/bench_training.py [--workload nielsen mlp] [--epochs 1] [--compile]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import chainrule as cr
from chainrule.datasets import load_splits
from chainrule.models import get_recipe

WORKLOADS = {"nielsen": ("sgd", 3.0, 10), "mlp": ("adam", 1e-3, 128)}


def batches(n: int, batch: int, seed: int = 0):
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch] for i in range(0, n, batch)]


def run_chainrule(name, x, y, idx_batches, compiled=False):
    recipe = get_recipe(name)
    opt_name, lr, _ = WORKLOADS[name]
    cr.manual_seed(0)
    model = recipe.build((1, 28, 28), 10)
    opt = (
        cr.optim.SGD(model.parameters(), lr=lr)
        if opt_name == "sgd"
        else cr.optim.Adam(model.parameters(), lr=lr)
    )

    def step(xb, yb):
        loss = recipe.loss(model(cr.from_numpy(xb)), cr.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    # Compiled: the first two steps of each batch shape are recorded, the rest replayed; the
    # recording is part of the timed epoch.
    fn = cr.compile(step) if compiled else step
    t0 = time.perf_counter()
    for idx in idx_batches:
        fn(x[idx], y[idx])
    seconds = time.perf_counter() - t0
    if compiled:
        assert fn.stats()["eager_calls"] == 0, fn.stats()
    return seconds


def run_torch(name, x, y, idx_batches):
    import torch

    torch.manual_seed(0)
    opt_name, lr, _ = WORKLOADS[name]
    if name == "nielsen":
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 30),
            torch.nn.Sigmoid(),
            torch.nn.Linear(30, 10),
            torch.nn.Sigmoid(),
        )
        for p in model.parameters():
            torch.nn.init.normal_(p)
        eye = torch.eye(10)

        def loss_fn(out, yb):
            return 0.5 * ((out - eye[yb]) ** 2).sum() / len(yb)
    else:
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 10),
        )
        loss_fn = torch.nn.functional.cross_entropy
    opt = (
        torch.optim.SGD(model.parameters(), lr=lr)
        if opt_name == "sgd"
        else torch.optim.Adam(model.parameters(), lr=lr)
    )
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.perf_counter()
    for idx in idx_batches:
        it = torch.from_numpy(idx)
        loss = loss_fn(model(xt[it]), yt[it])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument(
        "--epochs", type=int, default=1, help="epochs timed per framework (best is kept)"
    )
    p.add_argument(
        "--compile", action="store_true", help="also time chainrule's step under cr.compile"
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()
    (x, y), _, _ = load_splits("fashion-mnist")
    x = np.ascontiguousarray(x.reshape(len(x), -1))
    results = {}
    print(
        f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores, numpy {np.__version__}"
    )
    for name in args.workload:
        bs = WORKLOADS[name][2]
        ours = min(run_chainrule(name, x, y, batches(len(y), bs, e)) for e in range(args.epochs))
        theirs = min(run_torch(name, x, y, batches(len(y), bs, e)) for e in range(args.epochs))
        results[name] = {
            "chainrule_s_per_epoch": ours,
            "torch_s_per_epoch": theirs,
            "ratio": ours / theirs,
        }
        line = (
            f"{name:8s} batch {bs:3d}: chainrule {ours:6.2f} s/epoch   PyTorch {theirs:6.2f} "
            f"s/epoch   ratio {ours / theirs:.2f}"
        )
        if args.compile:
            comp = min(
                run_chainrule(name, x, y, batches(len(y), bs, e), compiled=True)
                for e in range(args.epochs)
            )
            results[name].update(compiled_s_per_epoch=comp, compiled_ratio=comp / theirs)
            line += f"   compiled {comp:6.2f} s/epoch, ratio {comp / theirs:.2f}"
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
