"""The GEMM floor of a training step: its matrix products alone, in NumPy, on the same shapes.

``record_gemms`` runs one forward of the model with its Conv2d, Linear and LSTMCell layers
watched, and lists the matrix products a training step makes for each call (shapes as PyTorch's
layers compute them):

    Linear, input (M, K) → (M, O):    Y = X·Wᵀ (M×K · K×O),  dW = dYᵀ·X (O×M · M×K),
                                      dX = dY·W (M×O · O×K, when X takes a gradient)
    Conv2d, im2col view:              the same with M = N·Ho·Wo, K = C·kh·kw
    LSTMCell, input (N, I), H units:  two Linear-like products, X·W_ihᵀ (N×I · I×4H) and
                                      h·W_hhᵀ (N×H · H×4H), and their four backward products

``floor_run`` makes a suite ``Run`` whose step is exactly those products on preallocated random
float32 arrays (``np.matmul(..., out=)``): what the step would cost if everything but its GEMMs
were free. Products the step makes outside these layers (attention's batched weighted sums, the
optimiser) are not counted, so the true floor is a little higher than this one.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import nn


def _linear_products(m: int, k: int, o: int, needs_dx: bool) -> list[tuple[int, int, int]]:
    """(rows, inner, cols) of the forward and backward products of a Linear-like map."""
    out = [(m, k, o), (o, m, k)]
    if needs_dx:
        out.append((m, o, k))
    return out


def _products(layer, args) -> list[tuple[int, int, int]]:
    x = args[0]
    needs_dx = bool(getattr(x, "requires_grad", False))
    if isinstance(layer, nn.Conv2d):
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        return _linear_products(n * ho * wo, c * kh * kw, layer.out_channels, needs_dx)
    if isinstance(layer, nn.LSTMCell):
        n, i = x.shape
        hid = layer.hidden_size
        return _linear_products(n, i, 4 * hid, needs_dx) + _linear_products(n, hid, 4 * hid, True)
    k = x.shape[-1]
    return _linear_products(math.prod(x.shape) // k, k, layer.out_features, needs_dx)


def record_gemms(model, forward) -> list[tuple[int, int, int]]:
    """The (rows, inner, cols) of every matrix product of one training step of ``model``, from
    one call of ``forward()`` (which must run the model's forward with gradients enabled)."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.LSTMCell))]
    shapes: list[tuple[int, int, int]] = []
    for layer in layers:

        def spy(*args, layer=layer, **kwargs):
            shapes.extend(_products(layer, args))
            return type(layer).forward(layer, *args, **kwargs)

        layer.forward = spy
    try:
        forward()
    finally:
        for layer in layers:
            del layer.forward  # back to the class's method
    return shapes


def floor_run(shapes: list[tuple[int, int, int]], run_class):
    """A ``run_class`` (the suite's Run) whose step computes every product of ``shapes``."""
    rng = np.random.default_rng(0)
    work = []
    for m, k, n in shapes:
        a = rng.random((m, k), dtype=np.float32)
        b = rng.random((k, n), dtype=np.float32)
        work.append((a, b, np.empty((m, n), dtype=np.float32)))

    def step(i):
        for a, b, out in work:
            np.matmul(a, b, out=out)
        return 0.0

    run = run_class(step)
    run.gemm_shapes = shapes
    return run
