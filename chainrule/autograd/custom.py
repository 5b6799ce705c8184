"""``cr.autograd.Function``: an op whose forward and backward the user writes, as in PyTorch.

    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    y = Cube.apply(x)

``forward`` runs without recording (its ops are not in the graph); the result becomes one graph
node whose VJP calls ``backward`` on Tensors. When the backward pass is itself recorded
(``create_graph=True``), ``backward`` runs with recording on, so a backward written with
differentiable operations gives gradients of gradients.
"""

from __future__ import annotations

from chainrule.autograd.grad_mode import _GradMode, state
from chainrule.autograd.make import constant
from chainrule.backend import xp
from chainrule.errors import user_line
from chainrule.ops.base import Op


class FunctionCtx:
    """What ``forward`` hands to ``backward``: saved tensors, and which inputs need a gradient."""

    def __init__(self, needs_input_grad: tuple[bool, ...]):
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self.non_differentiable: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        """Keeps ``tensors`` (inputs or outputs of ``forward``) for ``backward``."""
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``."""
        from chainrule.autograd.inplace import check_saved

        check_saved(self)
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        """Declares outputs that take no gradient (an argmax, a mask)."""
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError(
            "autograd.Function: mark_dirty (a forward that writes its inputs in place) is not "
            "supported; return a new tensor instead"
        )


class _Call:
    """What the output nodes of one ``Function.apply`` call share."""

    def __init__(self, fn, ctx, positions, n_args, outputs):
        self.fn, self.ctx, self.positions, self.n_args = fn, ctx, positions, n_args
        # (shape, dtype) of each output, None for one that is not a Tensor
        self.outputs = [(o.shape, o.dtype) if _is_tensor(o) else None for o in outputs]


class _FunctionNode(Op):
    """The graph node of output ``k`` of one ``Function.apply`` call.

    Each output that takes a gradient has its own node; its VJP calls ``backward`` with that
    output's gradient and zeros (or None, after ``ctx.set_materialize_grads(False)``) for the
    others. ``backward`` is a vector-Jacobian product, linear in the output gradients, so the
    contributions of the outputs add up to the gradient one call with all of them would give.
    """

    saves = ()  # what backward reads is ctx.saved_tensors, checked by inplace.check_saved

    def __init__(self, call: _Call, k: int):
        self.call, self.k = call, k
        self.name = call.fn.__name__
        self.ctx = call.ctx

    def vjp(self, m, g, *args):
        from chainrule.autograd.tensor import Tensor

        call = self.call
        create = isinstance(g, Tensor)
        grad_outputs = []
        for j, spec in enumerate(call.outputs):
            if j == self.k:
                grad_outputs.append(g if create else constant(g))
            elif spec is None or not call.ctx.materialize_grads:
                grad_outputs.append(None)
            else:
                grad_outputs.append(constant(xp.zeros(spec[0], dtype=spec[1])))
        with _GradMode(create):
            grads = call.fn.backward(call.ctx, *grad_outputs)
        grads = _checked_count(self.name, grads if isinstance(grads, tuple) else (grads,), call)
        out = []
        for k, (pos, inp) in enumerate(zip(call.positions, self.inputs)):
            gi = grads[pos]
            if gi is not None:  # PyTorch ignores one for an input that needs none
                gi = _checked_grad(self.name, k, gi, inp, create) if inp.requires_grad else None
            out.append(gi)
        return tuple(out)


def _checked_count(name: str, grads: tuple, call: _Call) -> tuple:
    """``grads`` with PyTorch's checks of their number: one per argument of ``forward``, and
    further ones accepted only when they are None; a gradient for an argument that is not a
    Tensor must be None too."""
    from chainrule.autograd.tensor import Tensor

    n = call.n_args
    if len(grads) > n and all(g is None for g in grads[n:]):
        grads = grads[:n]  # PyTorch drops trailing Nones
    if len(grads) != n:
        raise RuntimeError(
            f"function {name}Backward returned an incorrect number of gradients (expected {n}, "
            f"got {len(grads)}): {name}.backward returned {len(grads)} gradients, but forward "
            f"took {n} arguments (return None for those that take none)\n  at {user_line()}"
        )
    for pos, g in enumerate(grads):
        if g is not None and not isinstance(g, Tensor):
            raise RuntimeError(
                f"expected Variable or None (got {_type_name(g)}): {name}.backward returned it "
                f"as gradient {pos}; return a Tensor\n  at {user_line()}"
            )
        if g is not None and pos not in call.positions:
            raise RuntimeError(
                f"function {name}Backward returned a gradient different than None at position "
                f"{pos + 1}, but the corresponding forward input was not a Variable\n"
                f"  at {user_line()}"
            )
    return grads


def _checked_grad(name: str, k: int, g, inp, create: bool):
    """The gradient ``g`` of tensor input ``k`` as PyTorch validates it: of the input's shape,
    or of a shape the input broadcasts to (then summed back to it), and cast to its dtype."""
    shape = inp._data.shape
    gshape = tuple(g.shape)
    if gshape != shape:
        if not _expandable(shape, gshape):
            raise RuntimeError(
                f"Function {name}Backward returned an invalid gradient at index {k} - got "
                f"{list(gshape)} but expected shape compatible with {list(shape)}\n"
                f"  at {user_line()}"
            )
        from chainrule.autograd import tensor_math

        g = tensor_math.sum_to(g, shape)
    if g.dtype != inp._data.dtype:
        g = g.to(inp._data.dtype)
    return g if create else g._data


def _expandable(shape: tuple, to: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``to`` (PyTorch's ``is_expandable_to``)."""
    if len(shape) > len(to):
        return False
    return all(a == b or a == 1 for a, b in zip(reversed(shape), reversed(to)))


def _type_name(x) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _is_tensor(x) -> bool:
    from chainrule.autograd.tensor import Tensor

    return isinstance(x, Tensor)


class Function:
    """Base class of user-written differentiable operations (``torch.autograd.Function``).

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static
    methods and are called with ``apply(*args)``. ``backward`` returns one gradient per argument
    of ``forward`` (``None`` for arguments that are not tensors or take no gradient).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("an autograd.Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("an autograd.Function subclass must define backward(ctx, ...)")

    @classmethod
    def apply(cls, *args):
        """Runs ``forward`` and records a graph node per output whose VJP calls ``backward``;
        returns what ``forward`` returned (a Tensor, or a tuple of them)."""
        from chainrule.autograd.inplace import storage_stamp
        from chainrule.autograd.tensor import Tensor, escape

        escape(f"the custom autograd.Function {cls.__name__}")
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with _GradMode(False):
            out = cls.forward(ctx, *args)
        several = isinstance(out, tuple)
        outs = list(out) if several else [out]
        if not any(isinstance(o, Tensor) for o in outs):
            raise TypeError(
                f"{cls.__name__}.forward must return a Tensor or a tuple holding Tensors, got "
                f"{type(out).__name__}\n  at {user_line()}"
            )
        inputs = tuple(args[i] for i in positions)
        if not (state.grad_enabled and any(t.requires_grad for t in inputs)):
            return out
        call = _Call(cls, ctx, positions, len(args), outs)
        ctx._stamps = tuple(storage_stamp(t) for t in ctx._saved)
        for k, o in enumerate(outs):
            if not isinstance(o, Tensor) or any(o is n for n in ctx.non_differentiable):
                continue
            if any(o is t for t in inputs) or o._node is not None:
                o = outs[k] = constant(o._data.copy())  # a node must not take over a tensor
            node = _FunctionNode(call, k)
            node.inputs = inputs
            node._v = state.epoch
            o._node = node
            o._requires_grad = True
        return tuple(outs) if several else outs[0]
