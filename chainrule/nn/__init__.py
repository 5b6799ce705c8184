"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses (``cr.nn``).

One import line per file, so that each concern can add its layers without touching the others.
"""

from chainrule.nn import functional, init, modules, parallel, utils
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
from chainrule.nn.parallel import DataParallel
from chainrule.nn.parameter import Parameter
