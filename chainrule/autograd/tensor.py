"""The Tensor (an array, whether it needs a gradient, the op that produced it), and how one is
made: ``constant`` (around an array), ``apply`` (an op's result, recorded in the graph) and
``recomputed`` (computed from data, recorded for ``cr.compile``)."""

from __future__ import annotations

import weakref
from typing import Any

from chainrule import ops
from chainrule.autograd.flags import check_grad, check_requires_grad
from chainrule.autograd.grad_mode import recording, state
from chainrule.backend import get_default_dtype, kind, xp
from chainrule.errors import AnomalyError, ShapeError, user_line


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


def _to_array(data, dtype) -> xp.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (xp.ndarray, xp.generic)):
        arr = xp.array(data, dtype=dtype)  # NumPy arrays keep their dtype (and are copied)
    else:
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], Tensor):
            data = [d._data if isinstance(d, Tensor) else d for d in data]
        try:
            arr = xp.array(data, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"tensor: cannot make a tensor from this {type(data).__name__}: {exc}"
            ) from None
        if dtype is None and arr.dtype == xp.float64 and not _has_float64(data):
            arr = arr.astype(get_default_dtype())  # Python floats take the default dtype
    if kind(arr.dtype) in "OUSVMm":
        raise TypeError(
            f"tensor: cannot make a tensor of {arr.dtype} values (from "
            f"{type(data).__name__}); tensors hold numbers and booleans only"
        )
    return arr


def _has_float64(data) -> bool:
    """Whether a nested list holds float64 arrays or 0-d tensors' arrays (which keep float64)."""
    if isinstance(data, xp.ndarray):
        return data.dtype == xp.float64
    if isinstance(data, (list, tuple)):
        return any(_has_float64(d) for d in data[:1])
    return False


def cast_array(a: xp.ndarray, dtype) -> xp.ndarray:
    """``a`` converted to ``dtype`` (a new array): the function ``Tensor.astype`` records for a
    cast that has no gradient, which a trace reader (the ONNX writer) recognises by identity."""
    return a.astype(dtype)


def escape(what: str) -> None:
    """Tells a ``cr.compile`` recording that data leaves the graph for Python here; ``what``
    names the operation (e.g. ``"item()"``). Outside a recording it does nothing."""
    if state.tracer is not None:
        state.tracer.escape(what)


def unwrap(x):
    """``x``'s array when ``x`` is a Tensor, else ``x`` itself (a scalar, list or array)."""
    return x._data if isinstance(x, Tensor) else x


# ----- making tensors: the one place a Tensor is built without __init__ -----
_new = object.__new__
_ndarray = xp.ndarray


def constant(array: xp.ndarray) -> Tensor:
    """A Tensor around ``array`` as it is (no copy, none of ``__init__``'s checks): no one's
    result, needing no gradient. ``apply`` and the creation functions start from it.

    This is the one place every Tensor's array passes, so it is where a NumPy scalar becomes a
    0-d array: NumPy's ufuncs and reductions return scalars (``xp.float32``) for 0-d results,
    and a scalar is immutable, has no ``.ctypes`` and is not an ``ndarray``, where PyTorch's 0-d
    tensor is an ordinary tensor (``s += 1``, ``t.numpy()``, saving)."""
    if type(array) is not _ndarray and not isinstance(array, _ndarray):
        # A NumPy scalar's own __array__ is the cheapest way to its 0-d array (a fresh one).
        array = array.__array__() if isinstance(array, xp.generic) else xp.asarray(array)
    t = _new(Tensor)
    t._data = array
    t._grad = None
    t._tangent = None
    t.name = None
    t._requires_grad = False
    t._node = None
    return t


def apply(op, *inputs: Tensor) -> Tensor:
    """Runs ``op.forward`` on the inputs' arrays and wraps the result in a Tensor.

    When gradients are being recorded and an input requires one, the op becomes the result's graph
    node (``result._node``), holding its inputs; under ``cr.jvp`` the result's tangent is computed
    by ``op.jvp``; under ``detect_anomaly`` the result is checked for NaN/Inf.
    """
    tracer = recording()
    if tracer is not None:
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
        inputs[0]._requires_grad
        if n == 1
        else (inputs[0]._requires_grad or inputs[1]._requires_grad)
        if n == 2
        else any(i._requires_grad for i in inputs)
    ):
        t._requires_grad = True
        t._node = op
        op.inputs = inputs
        op._v = state.epoch
    if state.forward_level:
        _forward_tangent(op, inputs, t)
    if state.anomaly:
        _check_anomaly(op, inputs, t)
    return t


def recomputed(fn, *args, **kwargs):
    """``constant(fn(*arrays, **kwargs))`` (a tuple of them when ``fn`` returns a tuple): a value
    computed from tensors' data that takes no gradient (a comparison, an argmax, an integer cast).
    Computed through here, rather than on ``.data`` directly, so that ``cr.compile`` records it
    and recomputes it at every replay."""
    raw = [a._data if isinstance(a, Tensor) else a for a in args]
    out = fn(*raw, **kwargs)
    tracer = recording()
    if tracer is not None:
        tracer.recomputed(fn, args, kwargs, out)
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
    if kind(data.dtype) in "fc" and not xp.isfinite(data).all():
        raise AnomalyError(
            f"detect_anomaly: {op.name} produced NaN or Inf in its result\n  at {op.trace}"
        )


# The non-leaves that keep their .grad (by id; Tensor's == is elementwise, so no WeakSet).
_retained: dict[int, weakref.ref] = {}


# Tensor's methods beyond its core are written by theme in the modules below, as its bases. Those
# modules and the functions they are made of import from this one only what is defined above
# (``constant``, ``apply``, ...), and take the class itself at call time
# (``from chainrule.autograd import tensor as _tensor``; ``_tensor.Tensor``): so they load here,
# before the class, and the class is built once, from its bases.
from chainrule.autograd.tensor_conversions import ConversionMethods  # noqa: E402
from chainrule.autograd.tensor_function_methods import FunctionMethods  # noqa: E402
from chainrule.autograd.tensor_operators import OperatorMethods  # noqa: E402
from chainrule.autograd.tensor_shape_inplace import InplaceShapeMethods  # noqa: E402
from chainrule.autograd.tensor_shape_methods import ShapeMethods  # noqa: E402


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
