"""``chainrule.data``: an alias of ``chainrule.utils.data``, the one data pipeline (kept for
programs that import from here).

Two names are kept from the module this used to be: ``ArrayDataset`` is ``TensorDataset`` (which
takes NumPy arrays without a copy), and ``collate`` is ``collate_arrays`` (examples stacked into
NumPy arrays, Python floats as float32).
"""

from __future__ import annotations

from chainrule.utils.data import *  # noqa: F403  (the alias: every public name)
from chainrule.utils.data import TensorDataset, collate_arrays
from chainrule.utils.data import __all__ as _names

ArrayDataset = TensorDataset
collate = collate_arrays

__all__ = [*_names, "ArrayDataset", "collate"]
