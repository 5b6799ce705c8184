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

import numpy as np

from chainrule.autograd.function import constant
from chainrule.autograd.grad_mode import _GradMode, state
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


class _FunctionNode(Op):
    """The graph node of one ``Function.apply`` call."""

    def __init__(self, fn, ctx: FunctionCtx, tensor_positions: list[int], n_args: int):
        self.fn, self.ctx = fn, ctx
        self.name = fn.__name__
        self.positions, self.n_args = tensor_positions, n_args

    def vjp(self, m, g, *args):
        from chainrule.autograd.tensor import Tensor

        create = isinstance(g, Tensor)
        with _GradMode(create):
            grads = self.fn.backward(self.ctx, g if create else constant(g))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != self.n_args:
            raise RuntimeError(
                f"{self.name}.backward returned {len(grads)} gradients, but forward took "
                f"{self.n_args} arguments (return None for those that take none)"
            )
        out = []
        for pos in self.positions:
            gi = grads[pos]
            if gi is None:
                out.append(None)
                continue
            if not create:
                gi = np.asarray(gi.data if isinstance(gi, Tensor) else gi)
            out.append(gi)  # a broadcast shape is summed back by the engine (sum_to)
        return tuple(out)


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
        """Runs ``forward`` and records one graph node whose VJP is ``backward``."""
        from chainrule.autograd.tensor import Tensor, _escape

        _escape(f"the custom autograd.Function {cls.__name__}")
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with _GradMode(False):
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return one Tensor (several outputs are not "
                f"supported yet), got {type(out).__name__}\n  at {user_line()}"
            )
        inputs = tuple(args[i] for i in positions)
        if not (state.grad_enabled and any(t.requires_grad for t in inputs)):
            return out
        if any(o is out for o in ctx.non_differentiable):
            return out
        if any(out is t for t in inputs):
            out = constant(out.data.copy())  # the node must not take over an input tensor
        node = _FunctionNode(cls, ctx, positions, len(args))
        node.inputs = inputs
        node._v = state.epoch
        ctx._stamps = tuple(getattr(t, "_vstamp", 0) for t in ctx._saved)
        out._node = node
        out.requires_grad = True
        return out
