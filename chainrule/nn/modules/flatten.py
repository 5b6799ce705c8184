"""``torch.nn.modules.flatten``'s path for the classes defined in ``chainrule.nn.linear``."""

from chainrule.nn.linear import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
