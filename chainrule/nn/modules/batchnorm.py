"""``torch.nn.modules.batchnorm``'s path for the classes defined in ``chainrule.nn.normalization``."""

from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d

__all__ = ["BatchNorm1d", "BatchNorm2d"]
