"""``torch.nn.modules.sparse``'s path for the classes defined in ``chainrule.nn.sparse``."""

from chainrule.nn.sparse import Embedding

__all__ = ["Embedding"]
