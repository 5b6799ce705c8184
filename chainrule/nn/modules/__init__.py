"""The layers, in the files where ``torch.nn.modules`` keeps them: ``module.py`` (``Module``),
``linear.py``, ``conv.py``, ``activation.py``, ``batchnorm.py``, ``normalization.py``,
``pooling.py``, ``dropout.py``, ``flatten.py``, ``loss.py``, ``sparse.py`` (``Embedding``),
``container.py``, ``transformer.py``, ``upsampling.py`` and ``rnn/`` (one file per kind of
cell, where PyTorch has one ``rnn.py``). ``attention.py`` holds ``MultiheadAttention`` (also
importable from ``activation``, PyTorch's place for it) and the captioner's
``AdditiveAttention``. ``cr.nn`` takes every class imported here (``__all__``).
"""

from chainrule.nn.modules.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from chainrule.nn.modules.attention import AdditiveAttention, MultiheadAttention
from chainrule.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, _BatchNorm
from chainrule.nn.modules.container import ModuleDict, ModuleList, ParameterList, Sequential
from chainrule.nn.modules.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.modules.dropout import Dropout, Dropout2d
from chainrule.nn.modules.flatten import Flatten, Unflatten
from chainrule.nn.modules.linear import Identity, Linear
from chainrule.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import GroupNorm, LayerNorm
from chainrule.nn.modules.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d
from chainrule.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.modules.sparse import Embedding
from chainrule.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from chainrule.nn.modules.upsampling import Upsample

# What ``from chainrule.nn.modules import *`` (cr.nn) takes: every class imported above, and
# not the submodule names (``conv``, ``linear``, ...), which are paths, not layers.
__all__ = sorted(name for name, value in globals().items() if isinstance(value, type))
