"""``torch.nn.DataParallel``: with one device there is nothing to split, so it is a
pass-through; what programs rely on is kept: ``.module`` is the wrapped model and the state
dict's keys carry the ``module.`` prefix, so checkpoints move both ways with PyTorch's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Runs ``module`` on the batch as it is (PyTorch would scatter it over ``device_ids``'
    GPUs along ``dim``; chainrule has the CPU only, where PyTorch too just calls the module).

    Args:
        module: the model; reachable as ``.module``, its parameters named ``module.<name>``.
        device_ids, output_device: the GPUs to spread over; without any, PyTorch ignores them
            (``device_ids`` becomes ``[]``), and so does chainrule.
        dim: the batch dimension that would be split.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[Any] | None = None,
        output_device: Any = None,
        dim: int = 0,
    ) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list[Any] = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
