"""``torch.utils.data._utils``: the collation functions (``_utils.collate``)."""

from chainrule.utils.data._utils import collate

__all__ = ["collate"]
