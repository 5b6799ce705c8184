"""The layers, where ``torch.nn.modules`` keeps them. For one commit this package only names
the classes (``nn.modules.Linear``): the next moves the layer files in from ``chainrule/nn/``
(two steps, so that ``git log --follow`` reaches each file's history)."""

from chainrule.nn.activation import *  # noqa: F403
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.batchnorm import *  # noqa: F403
from chainrule.nn.container import *  # noqa: F403
from chainrule.nn.conv import *  # noqa: F403
from chainrule.nn.dropout import *  # noqa: F403
from chainrule.nn.flatten import *  # noqa: F403
from chainrule.nn.linear import *  # noqa: F403
from chainrule.nn.loss import *  # noqa: F403
from chainrule.nn.module import *  # noqa: F403
from chainrule.nn.normalization import *  # noqa: F403
from chainrule.nn.pooling import *  # noqa: F403
from chainrule.nn.rnn import *  # noqa: F403
from chainrule.nn.sparse import *  # noqa: F403
from chainrule.nn.transformer import *  # noqa: F403
from chainrule.nn.upsampling import *  # noqa: F403
