"""PyTorch's ``torch.nn.modules`` paths, so that ``from chainrule.nn.modules.linear import
Linear`` (as code written against ``torch.nn.modules.*`` imports it) finds the same class as
``cr.nn.Linear``.

The layers themselves live in ``chainrule/nn/`` by concern; each file here only re-exports them
under the name of the PyTorch file that holds them (e.g. ``MultiheadAttention`` in
``activation``, ``BatchNorm2d`` in ``batchnorm``).
"""

from chainrule.nn.modules.activation import *  # noqa: F403
from chainrule.nn.modules.batchnorm import *  # noqa: F403
from chainrule.nn.modules.container import *  # noqa: F403
from chainrule.nn.modules.conv import *  # noqa: F403
from chainrule.nn.modules.dropout import *  # noqa: F403
from chainrule.nn.modules.flatten import *  # noqa: F403
from chainrule.nn.modules.linear import *  # noqa: F403
from chainrule.nn.modules.loss import *  # noqa: F403
from chainrule.nn.modules.module import *  # noqa: F403
from chainrule.nn.modules.normalization import *  # noqa: F403
from chainrule.nn.modules.pooling import *  # noqa: F403
from chainrule.nn.modules.rnn import *  # noqa: F403
from chainrule.nn.modules.sparse import *  # noqa: F403
from chainrule.nn.modules.transformer import *  # noqa: F403
from chainrule.nn.modules.upsampling import *  # noqa: F403
