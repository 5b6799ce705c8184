"""``torch.nn.modules.module``'s path for the classes defined in ``chainrule.nn.module``."""

from chainrule.nn.module import Module

__all__ = ["Module"]
