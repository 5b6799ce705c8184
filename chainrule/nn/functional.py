"""``cr.nn.functional``, imported as ``F``: the functions layers are made of.

Everything public in ``chainrule.functional`` is re-exported here, so that ``F.cross_entropy``,
``F.conv2d``, ... are found where a PyTorch user looks for them.
"""

from chainrule.functional import *  # noqa: F403
