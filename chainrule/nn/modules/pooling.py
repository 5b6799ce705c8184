"""``torch.nn.modules.pooling``'s path for the classes defined in ``chainrule.nn.pooling``."""

from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool1d, MaxPool2d

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "MaxPool1d", "MaxPool2d"]
