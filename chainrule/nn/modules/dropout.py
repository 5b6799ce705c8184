"""``torch.nn.modules.dropout``'s path for the classes defined in ``chainrule.nn.dropout``."""

from chainrule.nn.dropout import Dropout, Dropout2d

__all__ = ["Dropout", "Dropout2d"]
