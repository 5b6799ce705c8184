"""What the recurrent ops share: in-place and differentiable activations, the time order, and the
layer VJPs' stacking of per-step pieces and one-GEMM weight gradient."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.ops.elementwise import Sigmoid, Tanh


def sigmoid_into(x, out):
    """σ(x) = (1 + tanh(x / 2)) / 2 written into ``out``: tanh cannot overflow, so unlike
    1 / (1 + e^-x) it needs no branch on the sign of x, and it runs in four in-place passes."""
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def sigmoid_of(m, x):
    # A fresh op each call: a recorded op keeps its inputs, so instances cannot be shared.
    return m.apply(Sigmoid(), x)


def tanh_of(m, x):
    return m.apply(Tanh(), x)


def time_order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def stack_steps(m, pieces):
    """Per-step (N, D) pieces, in time order, as one (T, N, D) array or Tensor."""
    n, d = pieces[0].shape
    return m.concatenate([p.reshape((1, n, d)) for p in pieces], axis=0)


def weight_grad(m, dz, h_prev):
    """dW = Σ_t dz_tᵀ h_{t-1} as one GEMM over all steps, from dz (T, N, G) and the per-step
    h_{t-1} (N, H): (T·N, G)ᵀ (T·N, H) → (G, H)."""
    T, n, g = dz.shape
    hs = stack_steps(m, h_prev).reshape((T * n, h_prev[0].shape[-1]))
    return m.matmul(m.swapaxes(dz.reshape((T * n, g)), 0, 1), hs)
