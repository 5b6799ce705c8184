"""``torch.nn.parallel``: ``DataParallel`` and ``DistributedDataParallel`` on chainrule's one
CPU device (see each class for what it does here)."""

from chainrule.nn.parallel.data_parallel import DataParallel
from chainrule.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
