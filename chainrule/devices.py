"""Devices as PyTorch names them. chainrule computes on the CPU only, so ``cr.device("cpu")`` is
the one device there is; the others are refused with one clear error instead of being ignored, so
that a program asking for a GPU never silently runs somewhere it did not ask for.

The namespace ``accelerator`` (and the packages ``chainrule.cuda``, ``chainrule.backends``) answer the
questions PyTorch programs ask before choosing a device (``torch.cuda.is_available()`` ...)
truthfully: no.
"""

from __future__ import annotations

import types
from typing import Any

# The device types PyTorch knows; asking for one of them gets "not available here", any other
# string "not a device".
_KNOWN = ("cuda", "mps", "xpu", "xla", "hip", "mtia", "meta", "ipu", "hpu", "vulkan", "npu")

# Why every GPU request is refused: the message of the RuntimeError that device("cuda"),
# Tensor.cuda() and cr.cuda's functions raise.
NO_GPU = (
    "chainrule has no GPU backend: it computes on the CPU with NumPy. Use device='cpu' (or leave "
    "device out); cr.cuda.is_available() is False"
)


class device:
    """A device, as ``torch.device``: ``device("cpu")``, ``device("cpu", 0)``, ``device("cpu:0")``.

    Only ``cpu`` can be made; ``cuda``, ``mps`` and the other accelerators raise a
    ``RuntimeError`` saying chainrule has none.
    """

    __slots__ = ("index", "type")

    def __init__(self, type: str | device, index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        kind, _, rest = type.partition(":")
        if rest:
            if index is not None or not rest.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(rest)
        if kind != "cpu":
            if kind in _KNOWN:
                raise RuntimeError(f"device {type!r}: {NO_GPU}")
            raise RuntimeError(
                f"Expected one of cpu, {', '.join(_KNOWN)} device type at start of device "
                f"string: {type!r}"
            )
        self.type = kind
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self) -> device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


CPU = device("cpu")


def check(dev: Any) -> device:
    """``dev`` (None, a string, an int or a ``device``) as the CPU device, or the clear error.

    An int is a CUDA ordinal in PyTorch (``tensor.to(0)``), so it is refused like ``"cuda"``.
    """
    if dev is None or dev is CPU:
        return CPU
    if isinstance(dev, bool) or isinstance(dev, int):
        raise RuntimeError(f"device {dev!r} (a CUDA device ordinal): {NO_GPU}")
    return device(dev)


_default = CPU


def set_default_device(dev: Any) -> None:
    """As ``torch.set_default_device``: only the CPU (or None) can be the default here."""
    global _default
    _default = check(dev)


def get_default_device() -> device:
    """The device new tensors are made on: always the CPU."""
    return _default


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _none(*args: Any, **kwargs: Any) -> None:
    return None


accelerator = types.SimpleNamespace(
    is_available=_false, current_accelerator=_none, device_count=_zero
)


def to_args(args: tuple, kwargs: dict, *, where: str) -> tuple[device | None, Any]:
    """The (device, dtype) that ``Tensor.to``/``Module.to`` arguments ask for, PyTorch's forms:
    ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device and dtype),
    and the keywords ``device=``, ``dtype=``, ``non_blocking=``, ``copy=``, ``memory_format=``.
    Either may be None (unchanged)."""
    kwargs = dict(kwargs)
    for ignored in ("non_blocking", "copy", "memory_format"):
        kwargs.pop(ignored, None)
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword argument {next(iter(kwargs))!r}")
    args = list(args)
    if len(args) >= 2 and isinstance(args[-1], bool):  # to(x, non_blocking) as positional
        args.pop()
    if len(args) > 2:
        raise TypeError(f"{where}: expected at most a device and a dtype, got {len(args)} values")
    for a in args:
        if isinstance(a, (str, device)) or (isinstance(a, int) and not isinstance(a, bool)):
            dev = a
        elif hasattr(a, "_data") and hasattr(a, "grad"):  # a Tensor: its device and dtype
            dev, dtype = CPU, a.dtype
        else:
            dtype = a
    if dev is not None:
        dev = check(dev)
    return dev, dtype
