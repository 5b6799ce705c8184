"""``torch.nn.modules.conv``'s path for the classes defined in ``chainrule.nn.conv``."""

from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose2d

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]
