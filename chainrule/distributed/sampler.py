"""``DistributedSampler`` lives with the data tools, where PyTorch has it
(``chainrule.utils.data.distributed``); this path keeps ``chainrule.distributed.sampler``
imports working."""

from chainrule.utils.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
