"""``torch.nn.modules.conv``'s path for the classes defined in ``chainrule.nn.conv``."""

from chainrule.nn.conv import Conv2d

__all__ = ["Conv2d"]
