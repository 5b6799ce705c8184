"""How a Tensor is made, apart from the class itself: ``constant`` (around an array), ``apply``
(an op's result, recorded in the graph) and ``recomputed`` (computed from data, recorded for
``cr.compile``), with their helpers, ``Size`` and the retained-gradient registry.

The Tensor class is built in ``tensor.py`` from bases (``tensor_operators.py`` and the other
``tensor_*`` modules) whose methods are the function modules' functions (``pointwise``,
``reductions``, ...), and those functions make their results here. So this module cannot import
``tensor.py`` (that would be an import cycle): it holds the class in the module global
``Tensor``, which ``tensor.py`` binds exactly once, right after ``class Tensor`` is built and
before anything can call into here. Modules that need the class at call time (an
``isinstance``) read it as ``make.Tensor``; everything outside ``chainrule.autograd`` imports
it, and these names, from ``chainrule.autograd.tensor``."""

from __future__ import annotations

import weakref

from chainrule.autograd.grad_mode import recording, state
from chainrule.backend import get_default_dtype, kind, xp
from chainrule.errors import AnomalyError, ShapeError, user_line

# The Tensor class, bound by tensor.py (``make.Tensor = Tensor``) once it is built; a global of
# this module, so ``constant`` reads it as cheaply as it would its own module's class.
Tensor: type = None  # type: ignore[assignment]


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
