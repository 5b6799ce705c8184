"""``torch.nn.modules.normalization``'s path for the classes defined in ``chainrule.nn.normalization``."""

from chainrule.nn.normalization import GroupNorm, LayerNorm

__all__ = ["GroupNorm", "LayerNorm"]
