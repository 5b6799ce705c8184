"""The method forms of the differentiable functions (``x.sum(dim)``, ``x.reshape(...)``,
``x.softmax(dim)``), with PyTorch's and NumPy's argument names, and the dtype and device
conversions (``x.float()``, ``x.to(...)``); added to Tensor by ``chainrule.autograd``."""

from __future__ import annotations

import numpy as np

from chainrule import devices as _device
from chainrule import ops
from chainrule.autograd import tensor_math as _fn
from chainrule.autograd.tensor import Tensor, apply
from chainrule.backend import bfloat16, kind
from chainrule.errors import ShapeError


class MathMethods:
    """A namespace of Tensor methods (see the module's docstring)."""

    # ----- transposed views -----
    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of matrices transposed; a view)."""
        if self._data.ndim < 2:
            raise ShapeError(f"mT: needs at least 2 dimensions, got shape {self.shape}")
        return _fn.swapaxes(self, -1, -2)

    def t(self) -> Tensor:
        """A 2-D tensor transposed (0-D and 1-D tensors are returned as they are), as PyTorch."""
        if self._data.ndim > 2:
            raise ShapeError(
                f"t: expects a tensor of at most 2 dimensions, got shape {self.shape}; "
                "use transpose(dim0, dim1) or permute(...)"
            )
        return self if self._data.ndim < 2 else _fn.swapaxes(self, 0, 1)

    # ----- dtype and device -----
    def float(self) -> Tensor:
        """This tensor as float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """This tensor as float64."""
        return self.astype(np.float64)

    def half(self) -> Tensor:
        """This tensor as float16."""
        return self.astype(np.float16)

    def bfloat16(self) -> Tensor:
        """This tensor as bfloat16 (ml_dtypes' type: 8 exponent bits as float32, 7 of mantissa),
        each value rounded to nearest even."""
        return self.astype(bfloat16)

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating one (float16, bfloat16, float32, float64)."""
        return kind(self._data.dtype) == "f"

    def long(self) -> Tensor:
        """This tensor as int64."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """This tensor as int32."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """This tensor as bool (nonzero is True)."""
        return self.astype(np.bool_)

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

    # ----- differentiable methods (each also a function cr.NAME) -----
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.sum(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.mean(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None):  # fmt: skip
        """Variance over ``dim``, unbiased by default (see ``cr.var``)."""
        dim, unbiased = _dim_or_flag(dim, unbiased)
        return _fn.var(self, _axis(axis, dim), _keep(keepdim, keepdims), correction,
                       unbiased=unbiased)  # fmt: skip

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=None):  # fmt: skip
        """Standard deviation over ``dim``, unbiased by default (see ``cr.std``)."""
        dim, unbiased = _dim_or_flag(dim, unbiased)
        return _fn.std(self, _axis(axis, dim), _keep(keepdim, keepdims), correction,
                       unbiased=unbiased)  # fmt: skip

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The largest value, or with ``dim`` a ``(values, indices)`` pair (see ``cr.max``)."""
        return _fn.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The smallest value, or with ``dim`` a ``(values, indices)`` pair (see ``cr.min``)."""
        return _fn.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """A ``(values, indices)`` pair sorted along ``dim`` (see ``cr.sort``)."""
        return _fn.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return _fn.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """The ``k`` largest values along ``dim`` and their indices (see ``cr.topk``)."""
        return _fn.topk(self, k, dim, largest, sorted)

    def median(self, dim=None, keepdim: bool = False):
        """The lower median, or with ``dim`` a ``(values, indices)`` pair (see ``cr.median``)."""
        return _fn.median(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return _fn.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return _fn.amin(self, dim, keepdim)

    def exp(self):
        return apply(ops.Exp(), self)

    def log(self):
        return apply(ops.Log(), self)

    def sqrt(self):
        return apply(ops.Sqrt(), self)

    def abs(self):
        return apply(ops.Abs(), self)

    def sin(self):
        return apply(ops.Sin(), self)

    def cos(self):
        return apply(ops.Cos(), self)

    def tanh(self):
        return apply(ops.Tanh(), self)

    def sigmoid(self):
        return apply(ops.Sigmoid(), self)

    def relu(self):
        return apply(ops.Relu(), self)

    def softmax(self, axis=-1, *, dim=None):
        return _fn.softmax(self, _axis(axis, dim))

    def log_softmax(self, axis=-1, *, dim=None):
        return _fn.log_softmax(self, _axis(axis, dim))

    def reshape(self, *shape):
        return _fn.reshape(self, _shape_args(shape))

    view = reshape

    def transpose(self, *dims):
        """Dimensions ``dim0`` and ``dim1`` swapped, as PyTorch (see ``cr.transpose``)."""
        return _fn.transpose(self, *dims)

    def permute(self, *dims):
        """Dimensions reordered, as PyTorch's ``permute(*dims)``."""
        return _fn.permute(self, *dims)

    def swapaxes(self, a: int, b: int):
        return _fn.swapaxes(self, a, b)

    def squeeze(self, axis=None, *, dim=None):
        return _fn.squeeze(self, _axis(axis, dim))

    def unsqueeze(self, axis, *, dim=None):
        return _fn.unsqueeze(self, _axis(axis, dim))

    def broadcast_to(self, *shape):
        return _fn.broadcast_to(self, _shape_args(shape))

    def expand(self, *sizes):
        """This tensor broadcast to ``sizes`` (a view); -1 keeps a dimension's size, as PyTorch."""
        sizes = _shape_args(sizes)
        lead = len(sizes) - self._data.ndim
        if lead < 0:
            raise ShapeError(
                f"expand: the number of sizes {sizes} must be at least the tensor's number of "
                f"dimensions, shape {tuple(self.shape)}"
            )
        full = tuple(self._data.shape[i - lead] if s == -1 and i >= lead else s
                     for i, s in enumerate(sizes))  # fmt: skip
        return _fn.broadcast_to(self, full)

    def clip(self, min=None, max=None):
        return _fn.clip(self, min, max)

    clamp = clip

    def flatten(self, start_dim: int = 0, end_dim: int = -1, *, start_axis=None, end_axis=None):
        """Dimensions ``start_dim``..``end_dim`` merged into one (PyTorch's keywords; the
        NumPy-style ``start_axis``/``end_axis`` are the same arguments)."""
        start = start_dim if start_axis is None else start_axis
        return _fn.flatten(self, start, end_dim if end_axis is None else end_axis)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.argmax(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.argmin(self, _axis(axis, dim), _keep(keepdims, keepdim))


_LEGACY_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}  # fmt: skip


def _dim_or_flag(dim, unbiased):
    """PyTorch's old ``var(unbiased)`` form: a bool first argument is the flag, not a dim."""
    if isinstance(dim, bool):
        return None, dim
    return dim, unbiased


def _axis(axis, dim):
    return dim if dim is not None else axis


def _keep(keepdims, keepdim):
    return keepdim if keepdim is not None else keepdims


def _shape_args(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)
