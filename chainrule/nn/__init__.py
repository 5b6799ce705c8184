"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses (``cr.nn``).

The layers are defined in ``nn/modules/`` (one file per ``torch.nn.modules`` file) and listed
once, in ``nn/modules/__init__.py``; this package takes every class listed there, as
``torch.nn`` does with ``from .modules import *``.
"""

from chainrule.nn import functional, init, modules, parallel, utils
from chainrule.nn.modules import *  # noqa: F403
from chainrule.nn.parallel import DataParallel
from chainrule.nn.parameter import Parameter
