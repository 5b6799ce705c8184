"""``torch.nn.modules.linear``'s path for the classes defined in ``chainrule.nn.linear``."""

from chainrule.nn.linear import Identity, Linear

__all__ = ["Identity", "Linear"]
