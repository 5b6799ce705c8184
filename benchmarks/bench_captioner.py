"""One training step of the attention captioner, chainrule vs PyTorch (CPU), in one run.

The workload of issue 5: the Show-Attend-Tell captioner of ``chainrule.models.captioner``
(encoder included), batch 64, 17 time steps, the Fashion Scenes vocabulary (46 tokens); forward,
masked cross-entropy plus the doubly stochastic attention term, backward, gradient clipping and an
Adam step. The PyTorch model is written the same way (an ``LSTMCell`` loop with additive attention,
the output layer applied once over all steps), with the same sizes, and starts from chainrule's
weights, copied (the two are checked to compute the same loss before timing).

    .venv/bin/python benchmarks/bench_captioner.py [--steps 20] [--threads N] [--profile]
        [--floor] [--attention/--no-attention] [--json FILE]

Prints ms per step for each (median of --steps after 3 warm-up steps), the ratio chainrule /
PyTorch, with --profile where chainrule's time goes (cProfile, by function), and with --floor
the time of the encoder's matrix products alone: the GEMMs that im2col convolution cannot avoid
(forward, input gradient, weight gradient), timed in NumPy on the encoder's own shapes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule.captioning.loss import attention_regularizer, sequence_cross_entropy
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models.captioner import Captioner, CaptionerConfig
from chainrule.nn.utils import clip_grad_norm_

N, T = 64, 17


def make_batch(vocab_size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.random((N, 1, 64, 64), dtype=np.float32)
    lengths = rng.integers(6, T + 1, size=N)
    lengths[0] = T
    targets = rng.integers(4, vocab_size, size=(N, T))
    targets[np.arange(N), lengths - 1] = 2  # <end>
    targets[np.arange(T)[None, :] >= lengths[:, None]] = 0  # <pad>
    inputs = np.concatenate([np.ones((N, 1), np.int64), targets[:, :-1]], axis=1)
    return images, inputs, targets


# ----- chainrule -----
def chainrule_step(model, opt, images, inputs, targets, alpha_c=1.0):
    logits, alphas = model(cr.from_numpy(images), cr.from_numpy(inputs))
    loss = sequence_cross_entropy(logits, targets)
    if alphas is not None:
        loss = loss + alpha_c * attention_regularizer(alphas, targets)
    opt.zero_grad()
    loss.backward()
    clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return loss  # the Tensor, not a float: the step can then be cr.compile'd (benchmarks/suite.py)


# ----- PyTorch, written the same way -----
def torch_model(config: CaptionerConfig):
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            c1, c2, c3 = config.channels
            self.cnn = nn.Sequential(
                nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
                nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(c2, c3, 3, padding=1), nn.BatchNorm2d(c3), nn.ReLU(), nn.MaxPool2d(2),
            )  # fmt: skip
            g = config.image_size // 8
            eye = torch.eye(g)
            coords = torch.cat([eye.repeat_interleave(g, 0), eye.repeat(g, 1)], 1)
            self.register_buffer("coords", coords, persistent=False)

        def forward(self, x):
            f = self.cnn(x).flatten(2).transpose(1, 2)
            return torch.cat([f, self.coords.expand(f.shape[0], -1, -1)], 2)

    class Attention(nn.Module):
        def __init__(self, d, h, a):
            super().__init__()
            self.encoder_att, self.decoder_att, self.full_att = (
                nn.Linear(d, a), nn.Linear(h, a), nn.Linear(a, 1))  # fmt: skip

        def forward(self, features, h, projected):
            e = self.full_att(torch.tanh(projected + self.decoder_att(h)[:, None])).squeeze(2)
            alpha = torch.softmax(e, dim=1)
            return (alpha[:, :, None] * features).sum(1), alpha

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            g = config.image_size // 8
            v, e, d = config.vocab_size, config.embed_dim, config.channels[-1] + 2 * g
            h, a = config.hidden_dim, config.attention_dim
            self.embedding = nn.Embedding(v, e)
            self.attention = Attention(d, h, a)
            self.init_h, self.init_c = nn.Linear(d, h), nn.Linear(d, h)
            self.f_beta = nn.Linear(h, d)
            self.cell = nn.LSTMCell(e + d, h)
            self.out_h, self.out_z = nn.Linear(h, e), nn.Linear(d, e, bias=False)
            self.drop = nn.Dropout(config.dropout)
            self.out = nn.Linear(e, v)

        def forward(self, features, inputs):
            mean = features.mean(1)
            h, c = self.init_h(mean), self.init_c(mean)
            projected = self.attention.encoder_att(features)
            emb = self.embedding(inputs)
            hs, zs, alphas = [], [], []
            for t in range(inputs.shape[1]):
                z, alpha = self.attention(features, h, projected)
                z = torch.sigmoid(self.f_beta(h)) * z
                h, c = self.cell(torch.cat([emb[:, t], z], 1), (h, c))
                hs.append(h)
                zs.append(z)
                alphas.append(alpha)
            hs, zs = torch.stack(hs, 1), torch.stack(zs, 1)
            logits = self.out(self.drop(emb + self.out_h(hs) + self.out_z(zs)))
            return logits, torch.stack(alphas, 1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = Encoder(), Decoder()

        def forward(self, images, inputs):
            return self.decoder(self.encoder(images), inputs)

    return Model()


def torch_step(model, opt, images, inputs, targets, alpha_c=1.0):
    import torch
    import torch.nn.functional as F

    logits, alphas = model(images, inputs)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=0)  # fmt: skip
    mask = (targets != 0).to(alphas.dtype)[:, :, None]
    loss = loss + alpha_c * ((1 - (alphas * mask).sum(1)) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    return float(loss.detach())


def time_steps(step, steps: int) -> list[float]:
    for _ in range(3):
        step()
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def profile_chainrule(step, steps: int = 5, top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
    return "\n".join(lines[start:])


def encoder_gemm_floor(model, images, repeats: int = 20) -> list[tuple[str, float]]:
    """ms per step of the GEMMs of each convolution of ``model.encoder`` (median of ``repeats``):
    y = cols·Wᵀ (M×K by K×O), dW = dYᵀ·cols (O×M by M×K) and, but for the first layer (its input
    is the images), dX's product (M×O by O×K); M = N·Ho·Wo, K = C·kh·kw. The same FLOPs as the
    full-convolution input gradient chainrule runs at stride 1."""
    from chainrule import nn

    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    shapes = []
    for c in convs:

        def spy(x, c=c):
            shapes.append((c, tuple(x.shape)))
            return type(c).forward(c, x)

        c.forward = spy
    try:
        with cr.no_grad():
            model.encoder(cr.from_numpy(images))
    finally:
        for c in convs:
            del c.forward  # back to the class's method
    rng = np.random.default_rng(0)
    out = []
    for i, (c, (n, ch, h, w)) in enumerate(shapes):
        (kh, kw), (sh, _), (ph, pw) = c.kernel_size, c.stride, c.padding
        ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // c.stride[1] + 1
        m, k, o = n * ho * wo, ch * kh * kw, c.out_channels
        cols = rng.random((m, k), dtype=np.float32)
        wt = rng.random((k, o), dtype=np.float32)
        g = rng.random((m, o), dtype=np.float32)
        runs = [lambda a=cols, b=wt: a @ b, lambda a=g, b=cols: a.T @ b]
        if i > 0:
            runs.append(lambda a=g, b=wt: a @ b.T)
        ms = sum(statistics.median(time_steps(f, repeats)) for f in runs)
        out.append((f"conv{i + 1}, {ch}->{o} channels, {kh}x{kw} stride {sh} on {h}x{w}", ms))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, help="BLAS/torch threads (default: as the process has)")
    p.add_argument("--no-attention", action="store_true", help="the Show-and-Tell baseline")
    p.add_argument("--profile", action="store_true", help="where chainrule's time goes")
    p.add_argument("--floor", action="store_true", help="the encoder's GEMMs alone, timed")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
        except ImportError:
            if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
                print("note: set OPENBLAS_NUM_THREADS too, NumPy's BLAS threads are not limited")
    vocab = scene_vocabulary()
    config = CaptionerConfig(vocab_size=len(vocab), attention=not args.no_attention)
    images, inputs, targets = make_batch(len(vocab))

    cr.manual_seed(0)
    model = Captioner(config)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    tm = torch_model(config) if config.attention else None
    if tm is not None:
        state = {k: torch.from_numpy(np.array(v.data)) for k, v in model.state_dict().items()}
        missing = tm.load_state_dict(state, strict=True)
        assert not missing.missing_keys and not missing.unexpected_keys
        # Same weights, same batch, no dropout: the same loss (the step is the same computation).
        model.eval()
        tm.eval()
        with cr.no_grad():
            lc, ac = model(cr.from_numpy(images), cr.from_numpy(inputs))
        with torch.no_grad():
            lt, at = tm(torch.from_numpy(images), torch.from_numpy(inputs))
        np.testing.assert_allclose(lc.data, lt.numpy(), rtol=2e-3, atol=2e-4)
        np.testing.assert_allclose(ac.data, at.numpy(), rtol=2e-3, atol=1e-5)
        model.train()
        tm.train()
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3) if tm is not None else None
    ti, tin, tt = (torch.from_numpy(a) for a in (images, inputs, targets))

    def cr_step():
        chainrule_step(model, opt, images, inputs, targets)

    def pt_step():
        torch_step(tm, topt, ti, tin, tt)

    # The encoder alone (forward and backward of a fixed linear function of its features), to
    # split each framework's step into encoder and decoder (+ loss, optimiser) time.
    probe = np.random.default_rng(1).standard_normal((N, 64, model.encoder.feature_dim))
    probe = probe.astype(np.float32)
    tprobe = torch.from_numpy(probe)

    def cr_enc():
        f = model.encoder(cr.from_numpy(images))
        (f * cr.from_numpy(probe)).sum().backward()

    def pt_enc():
        f = tm.encoder(ti)
        (f * tprobe).sum().backward()

    # Interleaved rounds, so that load from other processes hits both alike.
    cr_ms, pt_ms, cr_e, pt_e = [], [], [], []
    for _ in range(2):
        cr_ms += time_steps(cr_step, args.steps // 2)
        cr_e += time_steps(cr_enc, args.steps // 2)
        if tm is not None:
            pt_ms += time_steps(pt_step, args.steps // 2)
            pt_e += time_steps(pt_enc, args.steps // 2)
    c = statistics.median(cr_ms)
    print(f"captioner training step, batch {N}, {T} steps, vocab {len(vocab)}, "
          f"{'attention' if config.attention else 'no attention'}; sizes {config}")  # fmt: skip
    ce = statistics.median(cr_e)
    print(f"  chainrule  {c:8.1f} ms/step  (min {min(cr_ms):.1f}); encoder forward+backward "
          f"{ce:.1f} ms, the rest (decoder, loss, Adam) {c - ce:.1f} ms")  # fmt: skip
    result = {"chainrule_ms": c, "chainrule_min_ms": min(cr_ms), "config": config.to_dict(),
              "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
              "python": platform.python_version(), "torch": torch.__version__}  # fmt: skip
    if pt_ms:
        t = statistics.median(pt_ms)
        te = statistics.median(pt_e)
        print(f"  PyTorch    {t:8.1f} ms/step  (min {min(pt_ms):.1f}); encoder forward+backward "
              f"{te:.1f} ms, the rest {t - te:.1f} ms; {torch.get_num_threads()} threads")  # fmt: skip
        print(f"  ratio chainrule / PyTorch: {c / t:.2f} (encoder {ce / te:.2f}, "
              f"the rest {(c - ce) / max(t - te, 1e-9):.2f})")  # fmt: skip
        result.update(torch_ms=t, torch_min_ms=min(pt_ms), ratio=c / t, chainrule_encoder_ms=ce,
                      torch_encoder_ms=te)  # fmt: skip
    if args.floor:
        floor = encoder_gemm_floor(model, images)
        total = sum(ms for _, ms in floor)
        print("\nthe encoder's matrix products alone (NumPy, forward and both gradients):")
        for what, ms in floor:
            print(f"  {what}: {ms:.1f} ms")
        line = f"  total {total:.1f} ms per step"
        if pt_ms:
            line += f", against PyTorch's whole encoder forward+backward {te:.1f} ms"
        print(line)
        result["chainrule_encoder_gemm_ms"] = total
    if args.profile:
        print("\nwhere chainrule's time goes (cProfile, 5 steps, by own time):")
        print(profile_chainrule(cr_step))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
