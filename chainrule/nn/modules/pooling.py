"""``torch.nn.modules.pooling``'s path for the classes defined in ``chainrule.nn.pooling``."""

from chainrule.nn.pooling import AvgPool2d, MaxPool2d

__all__ = ["AvgPool2d", "MaxPool2d"]
