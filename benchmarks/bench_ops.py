"""Per-op overhead: a chain of 1,000 tiny elementwise ops, forward + backward, chainrule vs PyTorch.

Both frameworks run the same chain on the same 16-element input in this one process, and the
script prints each one's microseconds per op and the ratio chainrule / PyTorch.

    .venv/bin/python benchmarks/bench_ops.py [--ops 1000] [--repeats 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import chainrule as cr


def chain(x, w, n_ops: int):
    """n_ops elementwise ops cycling through mul-by-scalar, add-tensor, tanh, mul-tensor."""
    y = x
    for _ in range(n_ops // 4):
        y = y * 0.999
        y = y + w
        y = y.tanh()
        y = y * w
    return y.sum()


def time_chainrule(data, n_ops, repeats):
    x = cr.tensor(data, requires_grad=True)
    w = cr.tensor(np.full_like(data, 0.5), requires_grad=True)
    best = float("inf")
    for _ in range(repeats):
        x.grad = w.grad = None
        t0 = time.perf_counter()
        chain(x, w, n_ops).backward()
        best = min(best, time.perf_counter() - t0)
    return best, x.grad.numpy()


def time_torch(data, n_ops, repeats):
    import torch

    x = torch.tensor(data, requires_grad=True)
    w = torch.full_like(x, 0.5).requires_grad_()
    best = float("inf")
    for _ in range(repeats):
        x.grad = w.grad = None
        t0 = time.perf_counter()
        chain(x, w, n_ops).backward()
        best = min(best, time.perf_counter() - t0)
    return best, x.grad.numpy()


def time_numpy_forward(data, n_ops, repeats):
    """The floor: the same forward chain in plain NumPy (no graph, no backward)."""
    w = np.full_like(data, 0.5)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = data
        for _ in range(n_ops // 4):
            y = np.tanh((y * 0.999) + w) * w
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()
    data = np.random.default_rng(0).normal(size=16).astype(np.float32)

    ours, g_ours = time_chainrule(data, args.ops, args.repeats)
    theirs, g_theirs = time_torch(data, args.ops, args.repeats)
    floor = time_numpy_forward(data, args.ops, args.repeats)
    np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-4, atol=1e-6)  # same work, same answer

    us = lambda s: s / args.ops * 1e6  # noqa: E731
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(
        f"chain of {args.ops} elementwise ops on 16 float32 values, forward + backward, best of {args.repeats}"
    )
    print(f"  chainrule : {us(ours):7.2f} us/op")
    print(f"  PyTorch   : {us(theirs):7.2f} us/op")
    print(f"  NumPy fwd : {us(floor):7.2f} us/op (forward only, no graph: the floor)")
    print(f"  ratio chainrule/PyTorch: {ours / theirs:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "chainrule_us_per_op": us(ours),
                    "torch_us_per_op": us(theirs),
                    "numpy_forward_us_per_op": us(floor),
                    "ratio": ours / theirs,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
