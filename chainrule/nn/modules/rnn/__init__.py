"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells ``RNNCell``, ``LSTMCell``,
``GRUCell``, with PyTorch's parameter names, shapes, gate orders and return values.

As in PyTorch, ``batch_first=False`` is the default, so a batch of sequences is x: (T, N, D);
``batch_first=True`` reads (N, T, D). The final states ``h_n`` (and ``c_n``) are (L·dirs, N, H)
either way.

Speed. A layer computes the input-to-hidden product of all T steps at once (one (T·N, D) GEMM per
layer and direction), then runs the recurrence as one fused op (``ops.rnn.LSTMLayer`` and
friends): per step, one (N, H) × (H, G·H) GEMM plus the gate arithmetic, and in backward one GEMM
per step plus a single GEMM for the recurrent weight's gradient over all steps. The cells
(used in hand-written loops such as an attention decoder) fuse the gate arithmetic of one step.
"""

from __future__ import annotations

from chainrule.nn.modules.rnn.base import RNNBase, RNNCellBase
from chainrule.nn.modules.rnn.elman import RNN, RNNCell
from chainrule.nn.modules.rnn.gru import GRU, GRUCell
from chainrule.nn.modules.rnn.lstm import LSTM, LSTMCell

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
