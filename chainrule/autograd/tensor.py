"""The Tensor: an array, whether it needs a gradient, and the op that produced it."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from chainrule import devices as _device
from chainrule import ops
from chainrule.autograd.grad_mode import state
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import AnomalyError, ShapeError, expect, user_line


class Tensor:
    """An n-dimensional array that records the ops applied to it, so that it can be differentiated.

    ``data`` is, as in PyTorch, a Tensor sharing this one's storage outside the graph (writes to
    it are not recorded); ``numpy()`` gives the NumPy array itself. ``grad`` holds the gradient after ``backward()``, a Tensor of the same shape, for leaves that
    require one. ``_node`` is the op that produced this tensor when it is part of a graph.
    """

    # _vstamp, _vcount (in-place writes) and _base (the tensor a view shares storage with) are
    # set only on the tensors they concern, so that making a tensor in ``apply`` stays cheap.
    __slots__ = (
        "__weakref__",
        "_base",
        "_data",
        "_grad",
        "_node",
        "_tangent",
        "_vcount",
        "_vstamp",
        "name",
        "requires_grad",
    )  # fmt: skip
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False):
        self._set(_to_array(data, dtype), requires_grad)

    def _set(self, arr: np.ndarray, requires_grad: bool) -> None:
        """Makes this a leaf around ``arr`` (every slot set, as ``constant`` does)."""
        self._data = arr
        self._grad = None
        self._node = None
        self._tangent = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----- attributes -----
    @property
    def data(self) -> Tensor:
        """A Tensor sharing this one's storage, outside the graph (PyTorch's ``.data``): in-place
        writes to it change this tensor without being recorded or counted as versions."""
        _escape(".data (a Tensor outside the graph)")
        return constant(self._data)

    @data.setter
    def data(self, value) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = arr

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}\n  at {user_line()}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has shape {tuple(value.shape)}, but the tensor has shape "
                    f"{tuple(self.shape)}\n  at {user_line()}"
                )
        self._grad = value

    @property
    def shape(self) -> Size:
        """The length of each dimension, a ``cr.Size`` (a tuple)."""
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not the result of a recorded op)."""
        return self._node is None

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (a view)."""
        return _view(apply(ops.Transpose(None), self), self)

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

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (PyTorch's ``_version``)."""
        return _inplace.version(self)

    @property
    def grad_fn(self):
        """The op that produced this tensor, or None for a leaf."""
        return self._node

    def size(self, dim: int | None = None):
        """The shape as a ``cr.Size`` (PyTorch's ``size()``), or its length along ``dim``."""
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return self._data.size

    def dim(self) -> int:
        return self._data.ndim

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ----- conversion -----
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        _escape("numpy()")
        return self._data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item; shape is {self.shape}")
        _escape("item()")
        return self._data.item()

    def tolist(self):
        _escape("tolist()")
        return self._data.tolist()

    def retain_grad(self) -> None:
        """Keeps this non-leaf tensor's gradient in ``.grad`` after ``backward()`` (a no-op on a
        leaf, which keeps its gradient anyway)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._node is not None:
            key = id(self)
            _retained[key] = weakref.ref(self, lambda _, key=key: _retained.pop(key, None))

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        ref = _retained.get(id(self))
        return self._node is not None and ref is not None and ref() is self

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows through it)."""
        return constant(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Marks this leaf as needing a gradient (in place); returns it."""
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients, but this one is "
                f"{self._data.dtype}; convert it first, e.g. t.astype(cr.float32)"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def astype(self, dtype) -> Tensor:
        """This tensor converted to ``dtype`` (differentiable between floating types)."""
        dtype = np.dtype(dtype)
        if dtype == self._data.dtype:
            return self
        if dtype.kind not in "fc" or self._data.dtype.kind not in "fc":
            return derived(_astype, self, dtype)
        return apply(ops.Cast(dtype), self)

    def float(self) -> Tensor:
        """This tensor as float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """This tensor as float64."""
        return self.astype(np.float64)

    def half(self) -> Tensor:
        """This tensor as float16."""
        return self.astype(np.float16)

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
        raise RuntimeError(f"Tensor.cuda(): {_device._NO_GPU}")

    def mm(self, other: Tensor) -> Tensor:
        """The matrix product of two 2-D tensors, (n, m) @ (m, p) -> (n, p)."""
        _need_dims("mm", 2, self, other)
        return _fn.matmul(self, other)

    def bmm(self, other: Tensor) -> Tensor:
        """Batched matrix product of 3-D tensors, (b, n, m) @ (b, m, p) -> (b, n, p)."""
        _need_dims("bmm", 3, self, other)
        return _fn.matmul(self, other)

    def __array__(self, dtype=None, copy=None):
        _escape("conversion to a NumPy array")
        arr = np.asarray(self._data)  # a reduction's result may be a NumPy scalar
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype != get_default_dtype() and self._data.dtype.kind == "f":
            extra += f", dtype={self._data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all(), or compare with `is None`"
            )
        _escape("bool() (an `if` on a tensor's value)")
        return bool(self._data)

    def _scalar(self, what: str):
        if self._data.size != 1:
            raise TypeError(
                f"{what}: only a one-element tensor can be converted to a Python number; "
                f"this one has shape {self.shape}"
            )
        _escape(f"{what} of a tensor")
        return self._data.item()

    def __int__(self) -> int:
        return int(self._scalar("int()"))

    def __float__(self) -> float:
        return float(self._scalar("float()"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex()"))

    def __index__(self) -> int:
        """A one-element integer tensor used as an index (``xs[t]``, ``range(t)``), as PyTorch."""
        if self._data.dtype.kind not in "iub":
            raise TypeError(
                f"only integer tensors of a single element can be converted to an index; this "
                f"one is {self._data.dtype} of shape {self.shape}"
            )
        return int(self._scalar("an index"))

    def __format__(self, spec: str) -> str:
        # PyTorch's rule: a 0-d tensor formats as its number; any other with a spec is an error.
        if self._data.ndim == 0:
            return format(self._scalar("format()"), spec)
        return object.__format__(self, spec)

    __hash__ = object.__hash__

    # ----- differentiation -----
    def backward(
        self, gradient=None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Computes the gradient of this tensor with respect to every leaf that requires one, and
        adds it to the leaf's ``.grad``.

        Args:
            gradient: dL/d(self), same shape as self; may be omitted for a one-element tensor.
            retain_graph: keep the graph so that backward can run through it again.
            create_graph: record the backward pass so the gradients are differentiable.
        """
        from chainrule.autograd.engine import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ----- operators -----
    def __add__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_ADD(), self, o)
        return apply(_ADD(), *_pair(self, o))

    def __radd__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_ADD(), o, self)
        return apply(_ADD(), *_pair(o, self))

    def __sub__(self, other):
        _check_sub(self, other)
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_SUB(), self, o)
        return apply(_SUB(), *_pair(self, o))

    def __rsub__(self, other):
        _check_sub(self, other)
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_SUB(), o, self)
        return apply(_SUB(), *_pair(o, self))

    def __mul__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:  # the common case, without a call
            return apply(_MUL(), self, o)
        return apply(_MUL(), *_pair(self, o))

    def __rmul__(self, other):
        o = _lift(other, self)
        if o._data.dtype is self._data.dtype:
            return apply(_MUL(), o, self)
        return apply(_MUL(), *_pair(o, self))

    def __truediv__(self, other):
        return apply(_DIV(), *_pair(self, _lift(other, self), true_div=True))

    def __rtruediv__(self, other):
        return apply(_DIV(), *_pair(_lift(other, self), self, true_div=True))

    def __pow__(self, other):
        if isinstance(other, (int, float)):
            if isinstance(other, float) and self._data.dtype.kind not in "fc":
                return apply(ops.PowScalar(other), self.astype(get_default_dtype()))
            return apply(ops.PowScalar(other), self)
        return apply(ops.Pow(), *_pair(self, _lift(other, self)))

    def __rpow__(self, other):
        return apply(ops.Pow(), *_pair(_lift(other, self), self))

    def __matmul__(self, other):
        return apply(ops.MatMul(), *_pair(self, _lift(other, self)))

    def __rmatmul__(self, other):
        return apply(ops.MatMul(), *_pair(_lift(other, self), self))

    def __floordiv__(self, other):
        """floor(self / other), PyTorch's ``//``: a step function, so no gradient flows."""
        a, b = _pair(self, _lift(other, self))
        return derived(np.floor_divide, a, b)

    def __rfloordiv__(self, other):
        a, b = _pair(_lift(other, self), self)
        return derived(np.floor_divide, a, b)

    def __mod__(self, other):
        """The remainder with the divisor's sign (``torch.remainder``), as self - floor(self/other)
        · other, so its gradient is 1 for self and -floor(self/other) for other."""
        a, b = _pair(self, _lift(other, self))
        return a - derived(np.floor_divide, a, b) * b

    def __rmod__(self, other):
        a, b = _pair(_lift(other, self), self)
        return a - derived(np.floor_divide, a, b) * b

    def __neg__(self):
        return apply(ops.Neg(), self)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply(ops.Abs(), self)

    # Comparisons and logic give boolean tensors outside the graph (they have no gradient).
    def __eq__(self, other):  # type: ignore[override]
        return derived(np.equal, self, _raw(other))

    def __ne__(self, other):  # type: ignore[override]
        return derived(np.not_equal, self, _raw(other))

    def __lt__(self, other):
        return derived(np.less, self, _raw(other))

    def __le__(self, other):
        return derived(np.less_equal, self, _raw(other))

    def __gt__(self, other):
        return derived(np.greater, self, _raw(other))

    def __ge__(self, other):
        return derived(np.greater_equal, self, _raw(other))

    def __and__(self, other):
        return derived(np.bitwise_and, self, _raw(other))

    def __or__(self, other):
        return derived(np.bitwise_or, self, _raw(other))

    def __invert__(self):
        return derived(np.invert, self)

    def any(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Whether any element (along ``dim`` when given) is nonzero; a bool tensor."""
        return derived(np.any, self, axis=_axis(axis, dim), keepdims=bool(_keep(keepdims, keepdim)))

    def all(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        """Whether every element (along ``dim`` when given) is nonzero; a bool tensor."""
        return derived(np.all, self, axis=_axis(axis, dim), keepdims=bool(_keep(keepdims, keepdim)))

    def __getitem__(self, index):
        index = _raw_index(index)
        out = apply(ops.GetItem(index), self)
        return _view(out, self) if _basic(index) else out

    def __setitem__(self, index, value):
        """``t[index] = value`` in place, recorded so gradients reach ``value`` and the rest of t
        (basic, integer-array and boolean indices; ``value`` broadcasts to the indexed shape)."""
        _inplace.modify(self, "setitem", ops.SetItem(_raw_index(index)), _value(value, self))

    # ----- in place (PyTorch's ``op_`` methods; each returns the tensor itself) -----
    def add_(self, other, *, alpha=1):
        other = _lift(other, self)
        return _inplace.modify(self, "add_", _ADD(), other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        other = _lift(other, self)
        return _inplace.modify(self, "sub_", _SUB(), other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return _inplace.modify(self, "mul_", _MUL(), _lift(other, self))

    def div_(self, other):
        return _inplace.modify(self, "div_", _DIV(), _lift(other, self))

    def pow_(self, exponent):
        if isinstance(exponent, (int, float)):
            return _inplace.modify(self, "pow_", ops.PowScalar(exponent))
        return _inplace.modify(self, "pow_", ops.Pow(), _lift(exponent, self))

    def clamp_(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        return _inplace.modify(self, "clamp_", ops.Clip(_raw(min), _raw(max)))

    clip_ = clamp_

    def neg_(self):
        return _inplace.modify(self, "neg_", ops.Neg())

    def exp_(self):
        return _inplace.modify(self, "exp_", ops.Exp())

    def log_(self):
        return _inplace.modify(self, "log_", ops.Log())

    def sqrt_(self):
        return _inplace.modify(self, "sqrt_", ops.Sqrt())

    def abs_(self):
        return _inplace.modify(self, "abs_", ops.Abs())

    def tanh_(self):
        return _inplace.modify(self, "tanh_", ops.Tanh())

    def sigmoid_(self):
        return _inplace.modify(self, "sigmoid_", ops.Sigmoid())

    def relu_(self):
        return _inplace.modify(self, "relu_", ops.Relu())

    def copy_(self, src, non_blocking: bool = False):
        """Writes ``src`` (broadcast to this shape) into this tensor; the gradient goes to src."""
        return _inplace.modify(self, "copy_", ops.SetItem(Ellipsis), _value(src, self))

    def fill_(self, value):
        return _inplace.modify(self, "fill_", ops.SetItem(Ellipsis), _value(value, self))

    def zero_(self):
        return self.fill_(0)

    def masked_fill_(self, mask, value):
        """Writes ``value`` where ``mask`` (broadcast to this shape) is True."""
        keep = ~np.asarray(_raw(mask), dtype=bool)
        return _inplace.modify(self, "masked_fill_", ops.Where(keep), _value(value, self))

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """Fills this tensor with draws from N(mean, std²) (no gradient)."""
        from chainrule.random import normal_array

        _inplace.write_no_grad(
            self, "normal_", lambda a: np.copyto(a, normal_array(mean, std, a.shape, generator))
        )
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        """Fills this tensor with draws from U(a, b) (no gradient)."""
        from chainrule.random import uniform_array

        _inplace.write_no_grad(
            self, "uniform_", lambda x: np.copyto(x, uniform_array(a, b, x.shape, generator))
        )
        return self

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

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

    def flatten(self, start_axis: int = 0, end_axis: int = -1):
        return _fn.flatten(self, start_axis, end_axis)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.argmax(self, _axis(axis, dim), _keep(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _fn.argmin(self, _axis(axis, dim), _keep(keepdims, keepdim))


_ADD, _SUB, _MUL, _DIV = ops.Add, ops.Sub, ops.Mul, ops.Div


class Size(tuple):
    """A tensor's shape: a tuple of ints (PyTorch's ``torch.Size``), with ``numel()``."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements a tensor of this shape has."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    # In messages and f-strings a shape reads as the tuple it is: (2, 3).
    def __str__(self) -> str:
        return tuple.__repr__(self)


def _to_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dtype)  # NumPy arrays keep their dtype (and are copied)
    else:
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
            data = [d._data if isinstance(d, Tensor) else d for d in data]
        try:
            arr = np.array(data, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"tensor: cannot make a tensor from this {type(data).__name__}: {exc}"
            ) from None
        if dtype is None and arr.dtype == np.float64 and not _has_float64(data):
            arr = arr.astype(get_default_dtype())  # Python floats take the default dtype
    if arr.dtype.kind in "OUSVMm":
        raise TypeError(
            f"tensor: cannot make a tensor of {arr.dtype} values (from "
            f"{type(data).__name__}); tensors hold numbers and booleans only"
        )
    return arr


def _has_float64(data) -> bool:
    """Whether a nested list holds float64 arrays or 0-d tensors' arrays (which keep float64)."""
    if isinstance(data, np.ndarray):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)):
        return any(_has_float64(d) for d in data[:1])
    return False


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def result_type(a, b) -> np.dtype:
    """The dtype of ``a (op) b`` under PyTorch's promotion: categories bool < integer < floating <
    complex; a dimensioned tensor's dtype wins over a 0-d tensor's, and a 0-d tensor's over a
    Python number's, unless the lower-priority operand is of a higher category."""
    a = a if isinstance(a, Tensor) else _lift(a, b) if isinstance(b, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else _lift(b, a)
    return _promoted(a._data, b._data)


def _promoted(x: np.ndarray, y: np.ndarray) -> np.dtype:
    dx, dy = x.dtype, y.dtype
    cx, cy = _CATEGORY[dx.kind], _CATEGORY[dy.kind]
    if (x.ndim == 0) == (y.ndim == 0):
        if cx == cy:
            return np.promote_types(dx, dy)
        return dx if cx > cy else dy
    if x.ndim == 0:  # y has dimensions: its dtype wins unless x is of a higher category
        return dx if cx > cy else dy
    return dy if cy > cx else dx


def _check_sub(a: Tensor, b) -> None:
    if (
        a._data.dtype == np.bool_
        or isinstance(b, bool)
        or (isinstance(b, Tensor) and b._data.dtype == np.bool_)
    ):
        raise TypeError(
            "subtraction with a bool tensor or value is not supported (as in PyTorch); to invert "
            f"a mask use ~mask\n  at {user_line()}"
        )


def _pair(a: Tensor, b: Tensor, true_div: bool = False) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op in their PyTorch-promoted dtype (true division of integers
    gives the default float dtype)."""
    da, db = a._data.dtype, b._data.dtype
    if da is db or da == db:
        if not true_div or da.kind in "fc":
            return a, b
        dt = get_default_dtype()
    else:
        dt = _promoted(a._data, b._data)
        if true_div and dt.kind not in "fc":
            dt = get_default_dtype()
    return a.astype(dt), b.astype(dt)


def _lift(x, like: Tensor) -> Tensor:
    """An operand as a Tensor; Python numbers take the other operand's dtype (NumPy's rule)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)):
        dt = like._data.dtype
        if dt.kind not in "fc":
            dt = np.result_type(dt, x)
            if dt == np.float64 and isinstance(x, float):
                dt = get_default_dtype()
        return constant(np.asarray(x, dtype=dt))
    if isinstance(x, (np.ndarray, np.generic)):
        return constant(np.asarray(x))
    return constant(_to_array(x, None))


_LEGACY_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}  # fmt: skip


def _need_dims(op: str, ndim: int, *tensors: Tensor) -> None:
    """mm and bmm take exactly ``ndim``-D operands, as in PyTorch (matmul broadcasts instead)."""
    expect(
        all(len(t.shape if isinstance(t, Tensor) else np.shape(t)) == ndim for t in tensors),
        op,
        f"{ndim}-D tensors",
        f"shapes {tuple(tensors[0].shape)} and {tuple(np.shape(tensors[1]))}; use matmul (or @) "
        "to broadcast",
    )


def _astype(a: np.ndarray, dtype) -> np.ndarray:
    return a.astype(dtype)


def _escape(what: str) -> None:
    """Tells a ``cr.compile`` recording that data leaves the graph for Python here."""
    if state.tracer is not None:
        state.tracer.escape(what)


def _view(out: Tensor, of: Tensor) -> Tensor:
    """Marks ``out`` as a view of ``of``'s storage (for the version counter of in-place writes)."""
    base = getattr(of, "_base", None)
    out._base = of if base is None else base
    return out


def _basic(index) -> bool:
    """Whether ``x[index]`` is a view (ints, slices, None, ...) rather than a gather (arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (np.ndarray, list, tuple)) for i in items)


def _value(x, like: Tensor) -> Tensor:
    """A value to write into ``like``: a Tensor as it is, anything else in ``like``'s dtype."""
    if isinstance(x, Tensor):
        return x
    return constant(np.asarray(x, dtype=like._data.dtype))


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        index = index._data
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype == np.bool_:
        return np.nonzero(index) if index.ndim > 1 else np.nonzero(index)[0]
    return index


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


# ----- making tensors: the one place a Tensor is built without __init__ -----
_new = object.__new__


def constant(array: np.ndarray) -> Tensor:
    """A Tensor around ``array`` as it is (no copy, no conversion, none of ``__init__``'s checks):
    no one's result, needing no gradient. ``apply`` and the creation functions start from it."""
    t = _new(Tensor)
    t._data = array
    t._grad = None
    t._tangent = None
    t.name = None
    t.requires_grad = False
    t._node = None
    return t


def apply(op, *inputs: Tensor) -> Tensor:
    """Runs ``op.forward`` on the inputs' arrays and wraps the result in a Tensor.

    When gradients are being recorded and an input requires one, the op becomes the result's graph
    node (``result._node``), holding its inputs; under ``cr.jvp`` the result's tangent is computed
    by ``op.jvp``; under ``detect_anomaly`` the result is checked for NaN/Inf.
    """
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        return tracer.apply(op, inputs)
    n = len(inputs)
    try:
        if n == 1:
            out = op.forward(inputs[0]._data)
        elif n == 2:
            out = op.forward(inputs[0]._data, inputs[1]._data)
        else:
            out = op.forward(*[t._data for t in inputs])
    except (ValueError, IndexError, TypeError) as exc:
        raise _op_error(op, inputs, exc) from None

    t = constant(out)
    if state.grad_enabled and (
        inputs[0].requires_grad
        if n == 1
        else (inputs[0].requires_grad or inputs[1].requires_grad)
        if n == 2
        else any(i.requires_grad for i in inputs)
    ):
        t.requires_grad = True
        t._node = op
        op.inputs = inputs
        op._v = state.epoch
    if state.forward_level:
        _forward_tangent(op, inputs, t)
    if state.anomaly:
        _check_anomaly(op, inputs, t)
    return t


def derived(fn, *args, **kwargs):
    """``constant(fn(*arrays, **kwargs))`` (a tuple of them when ``fn`` returns a tuple): a value
    computed from tensors' data that takes no gradient (a comparison, an argmax, an integer cast).
    Computed through here, rather than on ``.data`` directly, so that ``cr.compile`` records it
    and recomputes it at every replay."""
    raw = [a._data if isinstance(a, Tensor) else a for a in args]
    out = fn(*raw, **kwargs)
    tracer = state.tracer
    if tracer is not None and not tracer.busy:
        tracer.derived(fn, args, kwargs, out)
    if isinstance(out, tuple):
        return tuple(constant(o) for o in out)
    return constant(out)


def _forward_tangent(op, inputs, out: Tensor) -> None:
    if all(i._tangent is None for i in inputs):
        return
    tangents = [i._tangent if i._tangent is not None else xp.zeros_like(i._data) for i in inputs]
    tan = op.jvp(*tangents, *[i._data for i in inputs], out._data)
    if tan.shape != out._data.shape:
        tan = xp.broadcast_to(tan, out._data.shape)
    out._tangent = tan


def _op_error(op, inputs, exc: Exception) -> Exception:
    msg = f"{op.error_message([i._data for i in inputs], exc)}\n  at {user_line()}"
    if isinstance(exc, IndexError):
        return IndexError(msg)
    if isinstance(exc, TypeError):
        return TypeError(msg)
    return ShapeError(msg)


def _check_anomaly(op, inputs, out: Tensor) -> None:
    op.trace = user_line()
    data = out._data
    if data.dtype.kind in "fc" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: {op.name} produced NaN or Inf in its result\n  at {op.trace}"
        )


from chainrule.autograd import inplace as _inplace  # noqa: E402
from chainrule.autograd import tensor_math as _fn  # noqa: E402  (functions build on Tensor)
from chainrule.autograd.tensor_methods import TorchMethods  # noqa: E402

TorchMethods.install(Tensor)

# The non-leaves that keep their .grad (by id; Tensor's == is elementwise, so no WeakSet).
_retained: dict[int, weakref.ref] = {}
