"""Recurrent workloads, forward + backward, chainrule vs PyTorch (CPU) in one run.

(a) ``attention``: the Show, Attend and Tell decoder written as a loop over an LSTMCell with soft
    additive attention over 49 regions, batch 64, 16 steps, hidden 512, word embedding 256,
    encoder features 512, attention 512, the Fashion Scenes vocabulary (46 words):

        h, c = init_h(mean a), init_c(mean a);  P = W_enc a  (once)
        per step t:  z, α = attention(a, h, P);  z = σ(f_beta(h)) ⊙ z
                     h, c = LSTMCell([embed(w_t), z], (h, c));  logits_t = fc(h)
        loss = cross-entropy(logits, w_{t+1}) + mean((1 - Σ_t α_t)²)

    PyTorch runs the same loop with nn.LSTMCell and the attention written with its tensor ops
    (there is no additive-attention module in PyTorch); chainrule uses nn.LSTMCell and
    nn.AdditiveAttention.
(b) ``lstm``: embed → nn.LSTM(256, 512) over 16 steps → fc → cross-entropy, batch 64.

Both frameworks start from the same weights (PyTorch's initialisation copied into chainrule) and
their losses are compared before timing. Blocks of steps alternate between the two, so that
whatever else runs on the machine slows both alike; each reports its best and median block, in
ms per step (forward + backward, no optimiser step), and the ratio chainrule / PyTorch of the
best blocks. ``--profile`` adds where chainrule's time goes (cProfile, cumulative ms per step of
each op's forward and vjp; a vjp includes the ops it applies).

    .venv/bin/python benchmarks/bench_rnn.py [--workload attention|lstm|both] [--blocks 5]
        [--steps 2] [--threads N] [--profile] [--json FILE]

On a shared machine, ``--threads 1`` gives the steadier comparison: with other processes on the
cores, two-thread BLAS in either library can slow down several-fold. OpenBLAS picks its kernels
when NumPy loads, unless ``OPENBLAS_CORETYPE`` names them: the machine this was measured on sets
``OPENBLAS_CORETYPE=Haswell`` (AVX2 kernels) on an AVX-512 CPU, where OpenBLAS alone picks its
faster SkylakeX kernels. The header line says which kernels ran (and the suite's JSON records
them: ``machine.blas_kernels``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
from op_profile import profile_ops

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

N, T, L = 64, 16, 49  # batch, decoding steps, regions
EMBED, HIDDEN, ENC, ATT, VOCAB = 256, 512, 512, 512, 46


# ----- chainrule -----
class CrDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.attention = nn.AdditiveAttention(ENC, HIDDEN, ATT)
        self.init_h = nn.Linear(ENC, HIDDEN)
        self.init_c = nn.Linear(ENC, HIDDEN)
        self.f_beta = nn.Linear(HIDDEN, ENC)
        self.decode_step = nn.LSTMCell(EMBED + ENC, HIDDEN)
        self.fc = nn.Linear(HIDDEN, VOCAB)

    def forward(self, feats, captions):
        mean = feats.mean(axis=1)
        h, c = self.init_h(mean), self.init_c(mean)
        proj = self.attention.project_features(feats)
        emb = self.embedding(captions)
        logits, alphas = [], []
        for t in range(T):
            z, alpha = self.attention(feats, h, projected=proj)
            z = cr.sigmoid(self.f_beta(h)) * z
            h, c = self.decode_step(cr.cat([emb[:, t], z], axis=1), (h, c))
            logits.append(self.fc(h))
            alphas.append(alpha)
        logits = cr.stack(logits, axis=1)
        alphas = cr.stack(alphas, axis=1)
        ce = F.cross_entropy(logits.reshape(-1, VOCAB), captions[:, 1:].reshape(-1))
        return ce + ((1.0 - alphas.sum(axis=1)) ** 2).mean()


class CrLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, VOCAB)

    def forward(self, captions):
        out, _ = self.lstm(self.embedding(captions[:, :T]))
        logits = self.fc(out)
        return F.cross_entropy(logits.reshape(-1, VOCAB), captions[:, 1:].reshape(-1))


# ----- PyTorch, written the same way -----
def torch_models():
    import torch
    from torch import nn as tnn

    class Attention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.encoder_att = tnn.Linear(ENC, ATT)
            self.decoder_att = tnn.Linear(HIDDEN, ATT)
            self.full_att = tnn.Linear(ATT, 1)

        def forward(self, feats, h, proj):
            e = self.full_att(torch.tanh(proj + self.decoder_att(h).unsqueeze(1))).squeeze(2)
            alpha = torch.softmax(e, dim=1)
            return (feats * alpha.unsqueeze(2)).sum(dim=1), alpha

    class Decoder(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tnn.Embedding(VOCAB, EMBED)
            self.attention = Attention()
            self.init_h = tnn.Linear(ENC, HIDDEN)
            self.init_c = tnn.Linear(ENC, HIDDEN)
            self.f_beta = tnn.Linear(HIDDEN, ENC)
            self.decode_step = tnn.LSTMCell(EMBED + ENC, HIDDEN)
            self.fc = tnn.Linear(HIDDEN, VOCAB)

        def forward(self, feats, captions):
            mean = feats.mean(dim=1)
            h, c = self.init_h(mean), self.init_c(mean)
            proj = self.attention.encoder_att(feats)
            emb = self.embedding(captions)
            logits, alphas = [], []
            for t in range(T):
                z, alpha = self.attention(feats, h, proj)
                z = torch.sigmoid(self.f_beta(h)) * z
                h, c = self.decode_step(torch.cat([emb[:, t], z], dim=1), (h, c))
                logits.append(self.fc(h))
                alphas.append(alpha)
            logits = torch.stack(logits, dim=1)
            alphas = torch.stack(alphas, dim=1)
            ce = tnn.functional.cross_entropy(
                logits.reshape(-1, VOCAB), captions[:, 1:].reshape(-1)
            )
            return ce + ((1.0 - alphas.sum(dim=1)) ** 2).mean()

    class LSTMModel(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = tnn.Embedding(VOCAB, EMBED)
            self.lstm = tnn.LSTM(EMBED, HIDDEN, batch_first=True)
            self.fc = tnn.Linear(HIDDEN, VOCAB)

        def forward(self, captions):
            out, _ = self.lstm(self.embedding(captions[:, :T]))
            logits = self.fc(out)
            return tnn.functional.cross_entropy(
                logits.reshape(-1, VOCAB), captions[:, 1:].reshape(-1)
            )

    return Decoder, LSTMModel


# ----- runs -----
class Run:
    """One framework's model, inputs and a ``step()`` that does forward + backward."""

    def __init__(self, model, inputs, leaves):
        self.model, self.inputs, self.leaves = model, inputs, leaves

    def step(self) -> float:
        for p in [*self.model.parameters(), *self.leaves]:
            p.grad = None
        loss = self.model(*self.inputs)
        loss.backward()
        return float(loss.item())


def make_runs(workload: str):
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    captions = rng.integers(0, VOCAB, size=(N, T + 1))
    feats = rng.standard_normal((N, L, ENC)).astype(np.float32)
    Decoder, LSTMModel = torch_models()
    if workload == "attention":
        tm, cm = Decoder(), CrDecoder()
        tf = torch.tensor(feats, requires_grad=True)  # the encoder would be trained too
        cf = cr.tensor(feats, requires_grad=True)
        t_in, c_in = (tf, torch.tensor(captions)), (cf, cr.tensor(captions))
        t_leaves, c_leaves = [tf], [cf]
    else:
        tm, cm = LSTMModel(), CrLSTM()
        t_in, c_in = (torch.tensor(captions),), (cr.tensor(captions),)
        t_leaves, c_leaves = [], []
    cm.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return Run(cm, c_in, c_leaves), Run(tm, t_in, t_leaves)


def time_interleaved(runs: dict, steps: int, blocks: int) -> dict:
    """ms per step of each block, blocks alternating between the runs (after one warm-up step)."""
    for r in runs.values():
        r.step()
    times = {k: [] for k in runs}
    for _ in range(blocks):
        for name, r in runs.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                r.step()
            times[name].append((time.perf_counter() - t0) / steps * 1e3)
    return times


def profile(run: Run, steps: int, top: int = 16) -> list[tuple[str, int, float]]:
    """(op method, calls per step, ms per step) of the costliest ops, by cumulative time."""
    return profile_ops(run.step, steps, top)


def _blas() -> str:
    """NumPy's BLAS, its kernel family and threads (OpenBLAS's own choice for the CPU, or what
    OPENBLAS_CORETYPE names)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS unknown"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            arch = info.get("architecture", "?")
            return f"{info['internal_api']} {arch} kernels, {info['num_threads']} threads"
    return "BLAS unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=["attention", "lstm", "both"], default="both")
    p.add_argument("--steps", type=int, default=2, help="steps per timed block")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per framework")
    p.add_argument("--profile", action="store_true", help="also profile chainrule's step")
    p.add_argument(
        "--threads",
        type=int,
        help="BLAS threads for both (torch.set_num_threads and, through threadpoolctl, NumPy's "
        "OpenBLAS); default: each library's own default",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()
    import torch

    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; numpy {np.__version__} ({_blas()}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )
    results = {}
    workloads = ["attention", "lstm"] if args.workload == "both" else [args.workload]
    for w in workloads:
        ours, theirs = make_runs(w)
        lo, lt = ours.step(), theirs.step()
        assert abs(lo - lt) <= 1e-4 * abs(lt) + 1e-5, f"{w}: losses differ: {lo} vs {lt}"
        times = time_interleaved({"chainrule": ours, "PyTorch": theirs}, args.steps, args.blocks)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = best["chainrule"] / best["PyTorch"]
        title = {
            "attention": f"(a) LSTMCell loop + additive attention over {L} regions",
            "lstm": "(b) nn.LSTM, no attention",
        }[w]
        print(f"\n{title}: batch {N}, {T} steps, hidden {HIDDEN}, forward + backward")
        print(f"  losses agree: chainrule {lo:.6f}, PyTorch {lt:.6f}")
        for k in ("chainrule", "PyTorch"):
            print(f"  {k:9s}: best {best[k]:7.1f} ms/step, median {med[k]:7.1f} ms/step")
        print(f"  ratio chainrule/PyTorch (best blocks): {ratio:.2f}")
        results[w] = {"best_ms": best, "median_ms": med, "ratio": ratio, "blocks_ms": times}
        if args.profile:
            rows = profile(ours, args.steps)
            print("  where chainrule's time goes (cProfile; cumulative ms per step):")
            for name, calls, ms in rows:
                print(f"    {name:34s} {calls:5d} calls {ms:8.1f} ms")
            results[w]["profile"] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
