"""``Parameter``: a Tensor that a Module learns.

Assigning one to a Module attribute registers it (``self.weight = Parameter(...)``), so that
``parameters()``, ``state_dict()`` and the optimisers find it.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import get_default_dtype, xp


class Parameter(Tensor):
    """A leaf Tensor that requires a gradient by default and is registered by the Module it is
    assigned to.

    Args:
        data: a Tensor (its array is shared, not copied), a NumPy array (kept as it is, dtype
            included) or nested numbers (which take ``cr.get_default_dtype()``).
        requires_grad: whether the optimiser should see a gradient for it.

    Example:
        >>> w = Parameter(np.zeros((3, 4)))
        >>> w.requires_grad
        True
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            arr = xp.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            arr = data._data
        elif isinstance(data, xp.ndarray):
            arr = data
        else:
            arr = xp.asarray(data)
            if arr.dtype == xp.float64 or arr.dtype.kind in "iub":
                arr = arr.astype(get_default_dtype())
        self._set(arr, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # Tensor has __slots__ and no __dict__: pickle (and copy.deepcopy) need to be told how to
        # rebuild a Parameter. The gradient is not carried, as in PyTorch.
        return (Parameter, (self._data, self.requires_grad))
