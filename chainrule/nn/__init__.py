"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses (``cr.nn``).

One import line per file, so that each concern can add its layers without touching the others.
"""

from chainrule.nn import functional, init, modules, parallel, utils
from chainrule.nn.activation import (
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
from chainrule.nn.attention import AdditiveAttention, MultiheadAttention
from chainrule.nn.batchnorm import BatchNorm1d, BatchNorm2d, _BatchNorm
from chainrule.nn.container import ModuleDict, ModuleList, ParameterList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from chainrule.nn.dropout import Dropout, Dropout2d
from chainrule.nn.flatten import Flatten, Unflatten
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.module import Module
from chainrule.nn.normalization import GroupNorm, LayerNorm
from chainrule.nn.parallel import DataParallel
from chainrule.nn.parameter import Parameter
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.sparse import Embedding
from chainrule.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from chainrule.nn.upsampling import Upsample
