"""Fused recurrent ops: the gate arithmetic of LSTM, GRU and Elman cells, for one step or for a
whole sequence.

Composed of primitives, one LSTM step is about fifteen ops (four gate slices, three sigmoids, two
tanh, products and sums), each with its graph node and temporaries; and a sequence layer that
slices x_t out of a precomputed (T, N, 4H) input projection pays, in backward, a full-size zero
gradient per slice (T² work). These ops do the arithmetic in one place:

* ``LSTMCell``: (z, c) → [h', c'] for one step, from the gate pre-activations
  z = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh (the GEMMs stay ordinary matmul ops outside);
* ``GRUCell``: (x̃, h̃, h) → h' from x̃ = x W_ihᵀ + b_ih and h̃ = h W_hhᵀ + b_hh;
* ``LSTMLayer``, ``GRULayer``, ``RNNLayer``: a whole sequence, given the input projection of every
  step (one big GEMM, done outside) and the recurrent weight. The loop over time and
  backpropagation through time run inside: one GEMM per step each way, and the recurrent
  weight's gradient as one GEMM over all steps at the end.

Gate orders are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

LSTM, with σ the logistic function and ⊙ the elementwise product:
    i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh z_g;  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh c'
GRU:
    r = σ(x̃_r + h̃_r);  u = σ(x̃_z + h̃_z);  n = tanh(x̃_n + r ⊙ h̃_n);  h' = (1 - u) ⊙ n + u ⊙ h
Elman RNN:
    h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act = tanh or relu.

Gradients have two paths, like ``BatchNormTrain``'s. The first-order path reuses the activations
that forward saved on the op. When the backward pass is recorded (``create_graph=True``, ``m`` is
the Tensor namespace) the activations are recomputed from the inputs with differentiable ops
(sigmoid and tanh through ``m.apply``) and the same backward arithmetic, written with operators and
``m.*`` only, runs on Tensors, so gradients of gradients are right.
"""

from __future__ import annotations

from chainrule.ops.rnn.elman import RNNLayer
from chainrule.ops.rnn.gru import GRUCell, GRULayer
from chainrule.ops.rnn.lstm import LSTMCell, LSTMLayer

__all__ = ["GRUCell", "GRULayer", "LSTMCell", "LSTMLayer", "RNNLayer"]
