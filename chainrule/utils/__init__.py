"""PyTorch's ``torch.utils`` paths: ``chainrule.utils.data``."""

from chainrule.utils import data

__all__ = ["data"]
