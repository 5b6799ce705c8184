"""How a Tensor prints: ``tensor([1., 2.], requires_grad=True)``."""

from __future__ import annotations

import numpy as np

from chainrule.backend import get_default_dtype


def tensor_repr(t) -> str:
    """``repr(t)``: the values, then the dtype when it is not the default floating one, then the
    op that made ``t`` (``grad_fn=<...>``) or ``requires_grad=True``."""
    body = np.array2string(t._data, separator=", ", prefix="tensor(")
    extra = ""
    if t._data.dtype != get_default_dtype() and t._data.dtype.kind == "f":
        extra += f", dtype={t._data.dtype}"
    if t._node is not None:
        extra += f", grad_fn=<{t._node.name}>"
    elif t.requires_grad:
        extra += ", requires_grad=True"
    return f"tensor({body}{extra})"
