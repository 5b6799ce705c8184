"""Tensor's conversions and the tensors made like it: dtype (``x.float()``, ``x.to(dtype)``,
``x.type()``), device (``x.device``, ``x.cpu()``; the CPU is the only one) and ``x.new_zeros(...)``
and its kin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule import devices as _device
from chainrule.autograd.creation import tensor as _tensor
from chainrule.autograd.shape import shape_args
from chainrule.backend import bfloat16, kind, xp

if TYPE_CHECKING:
    from chainrule.autograd.tensor import Tensor


class ConversionMethods:
    """A base of ``Tensor``: its conversions (see the module's docstring)."""

    __slots__ = ()  # Tensor's instances keep its __slots__ only (no __dict__)

    def float(self) -> Tensor:
        """This tensor as float32."""
        return self.astype(xp.float32)

    def double(self) -> Tensor:
        """This tensor as float64."""
        return self.astype(xp.float64)

    def half(self) -> Tensor:
        """This tensor as float16."""
        return self.astype(xp.float16)

    def bfloat16(self) -> Tensor:
        """This tensor as bfloat16 (ml_dtypes' type: 8 exponent bits as float32, 7 of mantissa),
        each value rounded to nearest even."""
        return self.astype(bfloat16)

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating one (float16, bfloat16, float32, float64)."""
        return kind(self._data.dtype) == "f"

    def long(self) -> Tensor:
        """This tensor as int64."""
        return self.astype(xp.int64)

    def int(self) -> Tensor:
        """This tensor as int32."""
        return self.astype(xp.int32)

    def bool(self) -> Tensor:
        """This tensor as bool (nonzero is True)."""
        return self.astype(xp.bool_)

    def type(self, dtype=None) -> Tensor | str:
        """``type(dtype)`` converts as ``astype``; ``type()`` names the dtype as PyTorch's legacy
        tensor types do (``"torch.FloatTensor"``), which programs compare against."""
        if dtype is None:
            return "torch." + _LEGACY_NAMES.get(self._data.dtype.name, "Tensor")
        return self.astype(dtype)

    @property
    def device(self) -> _device.device:
        """Where the tensor lives: always ``cr.device("cpu")``."""
        return _device.CPU

    @property
    def is_cuda(self) -> bool:
        """False: chainrule computes on the CPU only (as are ``is_xpu``, ``is_mps``, ``is_meta``)."""
        return False

    @property
    def is_cpu(self) -> bool:
        """True: every tensor lives on the CPU."""
        return True

    @property
    def is_xpu(self) -> bool:
        return False

    @property
    def is_mps(self) -> bool:
        return False

    @property
    def is_meta(self) -> bool:
        return False

    def to(self, *args, **kwargs) -> Tensor:
        """This tensor on a device and/or as a dtype: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(other)``. The device can only be the CPU; a dtype change is
        ``astype`` (differentiable between floating types); otherwise the tensor itself."""
        _, dtype = _device.to_args(args, kwargs, where="Tensor.to")
        return self if dtype is None else self.astype(dtype)

    def cpu(self) -> Tensor:
        """The tensor itself: it is already on the CPU."""
        return self

    def cuda(self, *args, **kwargs) -> Tensor:
        """Refused with the reason: chainrule has no GPU backend."""
        raise RuntimeError(f"Tensor.cuda(): {_device.NO_GPU}")

    # ----- tensors like this one -----
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A tensor from ``data`` with this one's dtype unless ``dtype`` is given."""
        _device.check(device)
        return _tensor(data, dtype=dtype or self._data.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(shape_args(size), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)  # fmt: skip

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(shape_args(size), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)  # fmt: skip

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in ``size``, with this tensor's dtype unless ``dtype`` is given."""
        _device.check(device)
        arr = xp.full(tuple(size), fill_value, dtype=dtype or self._data.dtype)
        return _tensor(arr, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


_LEGACY_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}  # fmt: skip
