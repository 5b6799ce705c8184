"""``torch.cuda``: the questions a program asks before choosing a device, answered truthfully
(no GPU here), the seeding and synchronising calls programs make unconditionally (harmless
without a GPU, as in PyTorch), and ``torch.cuda.amp`` (``chainrule.cuda.amp``)."""

from __future__ import annotations

from typing import Any

from chainrule.cuda import amp
from chainrule.devices import NO_GPU

__all__ = [
    "amp", "current_device", "device_count", "empty_cache", "get_device_name", "is_available",
    "is_initialized", "manual_seed", "manual_seed_all", "set_device", "synchronize",
]  # fmt: skip


def is_available() -> bool:
    """False: chainrule computes on the CPU with NumPy."""
    return False


def device_count() -> int:
    """0: there is no GPU."""
    return 0


def is_initialized() -> bool:
    """False: there is no CUDA context."""
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch ignores the call there too)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch ignores the call there too)."""


def synchronize(device: Any = None) -> None:
    """Nothing runs asynchronously here."""


def empty_cache() -> None:
    """There is no GPU memory cache to empty."""


def _refuse(*args: Any, **kwargs: Any):
    raise RuntimeError(NO_GPU)


current_device = get_device_name = set_device = _refuse
