"""``torch.nn.modules.upsampling``'s path for the classes defined in ``chainrule.nn.upsampling``."""

from chainrule.nn.upsampling import Upsample

__all__ = ["Upsample"]
