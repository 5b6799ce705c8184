"""The Tensor: an array, whether it needs a gradient, the op that produced it.

How one is made (``constant``, ``apply``, ``recomputed``) is in ``make.py``, which the function
modules behind Tensor's methods use without importing this module; the names are re-exported
here, where the rest of chainrule imports them from."""

from __future__ import annotations

import weakref
from typing import Any

from chainrule import ops
from chainrule.autograd import make
from chainrule.autograd.flags import check_grad, check_requires_grad
from chainrule.autograd.make import (  # noqa: F401 (re-exported: chainrule imports them from here)
    Size,
    _retained,
    apply,
    cast_array,
    constant,
    escape,
    recomputed,
    unwrap,
)
from chainrule.autograd.tensor_conversions import ConversionMethods
from chainrule.autograd.tensor_function_methods import FunctionMethods
from chainrule.autograd.tensor_operators import OperatorMethods
from chainrule.autograd.tensor_shape_inplace import InplaceShapeMethods
from chainrule.autograd.tensor_shape_methods import ShapeMethods
from chainrule.backend import get_default_dtype, kind, xp


class Tensor(
    OperatorMethods, FunctionMethods, ShapeMethods, InplaceShapeMethods, ConversionMethods
):
    """An n-dimensional array that records the ops applied to it, so that it can be differentiated.

    ``data`` is, as in PyTorch, a Tensor sharing this one's storage outside the graph (writes to
    it are not recorded); ``numpy()`` gives the NumPy array itself. ``grad`` holds the gradient
    after ``backward()``, a Tensor of the same shape, for leaves that require one. ``_node`` is
    the op that produced this tensor when it is part of a graph.

    This class holds the core: data, gradient, node, conversions to Python and NumPy. Its other
    methods are in its bases, by theme: operators, indexing and in-place writes
    (``tensor_operators.py``); the methods that are PyTorch's functions, ``x.sum(dim)`` being
    ``cr.sum(x, dim)`` (``tensor_function_methods.py``); shape methods (``tensor_shape_methods.py``,
    in place ``tensor_shape_inplace.py``); dtype and device conversions
    (``tensor_conversions.py``).
    """

    # Set only where they apply (``apply`` stays cheap): _vstamp, _vcount, _prev (in-place
    # writes), on views _base, _vops, _vmeta, on bases _views and _reshaped (an in-place shape
    # change, ``tensor_shape_inplace``) (``chainrule.autograd.views``).
    __slots__ = (
        "__weakref__", "_base", "_data", "_grad", "_node", "_prev", "_requires_grad", "_reshaped",
        "_tangent", "_vcount", "_views", "_vmeta", "_vops", "_vstamp", "name",
    )  # fmt: skip
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is Tensor and len(args) == 1 and isinstance(args[0], Tensor):
            from chainrule.autograd.legacy import from_tensor

            return from_tensor(args[0], None, "Tensor", kwargs)  # __init__ sees it set and keeps it
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any):
        """PyTorch's legacy constructor, of the default dtype: ``Tensor(2, 3)`` (sizes: zeros),
        ``Tensor([0])`` (``tensor([0.])``); ``cr.tensor`` and ``constant`` infer the dtype."""
        from chainrule.autograd.legacy import legacy_array

        if len(args) != 1 or not isinstance(args[0], Tensor):  # else __new__ made a view
            self._set(legacy_array(args, kwargs, get_default_dtype(), "Tensor"), False)

    def _set(self, arr: xp.ndarray, requires_grad: bool) -> None:
        """Makes this a leaf around ``arr`` (every slot set, as ``constant`` does)."""
        self._data = arr
        self._grad = None
        self._node = None
        self._tangent = None
        self.name = None
        self._requires_grad = False
        if requires_grad:
            check_requires_grad(self, True, "creation")
            self._requires_grad = True

    # ----- attributes -----
    @property
    def data(self) -> Tensor:
        """A Tensor sharing this one's storage, outside the graph (PyTorch's ``.data``): in-place
        writes to it change this tensor without being recorded or counted as versions."""
        escape(".data (a Tensor outside the graph)")
        return constant(self._data)

    @data.setter
    def data(self, value) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not isinstance(arr, xp.ndarray):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data = arr

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            check_grad(self, value)  # a Tensor of this shape and dtype, as PyTorch requires
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this tensor. Settable on leaves only, and to True
        only for floating dtypes (PyTorch's rules; anything else is a RuntimeError)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        check_requires_grad(self, value, "attribute")
        self._requires_grad = value

    @property
    def shape(self) -> Size:
        """The length of each dimension, a ``cr.Size`` (a tuple)."""
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> xp.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not the result of a recorded op)."""
        return self._node is None

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed (a view)."""
        from chainrule.autograd.views import view_op

        return view_op(ops.Transpose(None), self)

    @property
    def grad_fn(self):
        """The op that produced this tensor, or None for a leaf. A view whose base was written
        in place since it was taken is first rebased on the base's new history, as PyTorch."""
        if getattr(self, "_vops", None) is not None:
            from chainrule.autograd.views import refresh

            refresh(self)
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
    def numpy(self) -> xp.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        escape("numpy()")
        return self._data

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item; shape is {self.shape}")
        escape("item()")
        return self._data.item()

    def tolist(self):
        escape("tolist()")
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
        """The same data, cut from the graph (no gradient flows through it). As in PyTorch it
        shares the storage's version counter: an in-place write through it is seen by the
        checks of backward (``.data`` is the way around them)."""
        out = constant(self._data)
        base = getattr(self, "_base", None)
        out._base = self if base is None else base
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Marks this leaf as needing a gradient (in place); returns it. On a non-leaf only
        ``True`` is allowed (it already requires one), as in PyTorch."""
        requires_grad = bool(requires_grad)
        check_requires_grad(self, requires_grad, "method")
        self._requires_grad = requires_grad
        return self

    def astype(self, dtype) -> Tensor:
        """This tensor converted to ``dtype`` (differentiable between floating types)."""
        dtype = xp.dtype(dtype)
        if dtype == self._data.dtype:
            return self
        if kind(dtype) not in "fc" or kind(self._data.dtype) not in "fc":
            return recomputed(cast_array, self, dtype)
        return apply(ops.Cast(dtype), self)

    def __array__(self, dtype=None, copy=None):
        escape("conversion to a NumPy array")
        arr = self._data
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __repr__(self) -> str:
        from chainrule.autograd.printing import tensor_repr

        return tensor_repr(self)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all(), or compare with `is None`"
            )
        escape("bool() (an `if` on a tensor's value)")
        return bool(self._data)

    def _scalar(self, what: str):
        if self._data.size != 1:
            raise TypeError(
                f"{what}: only a one-element tensor can be converted to a Python number; "
                f"this one has shape {self.shape}"
            )
        escape(f"{what} of a tensor")
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


# The functions in make.py (constant above all) build Tensors, and the modules this class's bases
# are made of reach it through them, so make.py cannot import this module: it is given the class
# here, once, as soon as the class exists (before anything can make a Tensor).
make.Tensor = Tensor
