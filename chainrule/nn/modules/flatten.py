"""The shape-only layers Flatten and Unflatten (``torch.nn.modules.flatten``)."""

from __future__ import annotations

from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.tensor import Tensor
from chainrule.nn.modules.module import Module


class Flatten(Module):
    """Merges axes ``start_dim`` to ``end_dim`` into one: (N, C, H, W) → (N, C·H·W) by default.

    Shape:
        x: (N, *) → (N, prod(*)) with the defaults start_dim=1, end_dim=-1.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return _fn.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) turns
    (N, C·H·W) back into (N, C, H, W); the reverse of ``Flatten``. One size may be -1."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        d = self.dim % len(shape) if shape else 0
        return _fn.reshape(x, shape[:d] + self.unflattened_size + shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
