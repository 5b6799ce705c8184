"""Reverse mode: walk the graph once in reverse topological order, applying each op's VJP.

The walk is iterative (no recursion, so a 100,000-op chain is fine) and gradients accumulate in a
dict keyed by tensor: a value used by several ops receives the sum of their contributions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from chainrule import backend
from chainrule.autograd import tensor_math
from chainrule.autograd.grad_mode import _GradMode, recording, state
from chainrule.autograd.inplace import check_versions
from chainrule.autograd.tensor import Tensor, _retained, constant
from chainrule.autograd.views import refresh, resolve
from chainrule.backend import xp
from chainrule.errors import AnomalyError, user_line


class _Freed:
    """Marks a graph node whose inputs were released after a backward pass."""


FREED = _Freed()


class GraphFreedError(RuntimeError):
    """The graph behind a tensor was released by ``backward()`` and can no longer be read."""


def toposort(
    roots: Sequence[Tensor], constants: bool = False, reader: str | None = None
) -> list[Tensor]:
    """Every tensor that requires grad and leads to ``roots``, inputs before the ops using them
    (with ``constants=True`` also the inputs that need no gradient, for pictures of the graph).
    A node freed by an earlier backward raises ``GraphFreedError``: for the walk itself, or for
    ``reader``, a tool that reads the graph (``"explain"``, ``"draw"``), when one is named.

    Iterative depth-first search: each tensor is listed once, after all of its inputs. A node
    recorded before the latest in-place write goes on to its inputs as they were when it was
    recorded (``views.resolve``), not to the history an in-place write gave them since.
    """
    now = state.epoch
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is not None and node._v != now and getattr(t, "_vops", None) is not None:
            node = refresh(t)._node  # a view whose base was written since it was taken
        if node is not None:
            inputs = node.inputs
            if inputs is FREED:
                raise GraphFreedError(_freed_message(node, reader))
            if node._v != now:
                inputs = resolve(node)
            for i in inputs:
                if (constants or i._requires_grad) and id(i) not in seen:
                    stack.append((i, False))
    return order


def _freed_message(node, reader: str | None) -> str:
    if reader is None:
        return (
            f"backward: trying to go through the graph a second time (at a {node.name} op whose "
            "saved values were freed by the first backward). Pass retain_graph=True to the first "
            "backward() if you need to do this."
        )
    return (
        f"{reader}: the graph behind this tensor was freed by backward() (at a {node.name} "
        "node), so it cannot be read any more. Call backward(retain_graph=True), or call "
        f"{reader} before backward()."
    )


def backward(
    root: Tensor, gradient=None, retain_graph: bool = False, create_graph: bool = False
) -> None:
    """Accumulates d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    g = _root_gradient(root, gradient, "backward", create_graph)
    _run([root], [g], retain_graph or create_graph, create_graph, targets=None)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    only_inputs: bool = True,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not put in ``.grad``).

    Like ``torch.autograd.grad``: ``grad_outputs`` gives d(loss)/d(output) for non-scalar outputs;
    with ``create_graph=True`` the returned gradients are themselves differentiable.
    ``only_inputs`` is accepted and ignored, as PyTorch now ignores it; ``materialize_grads``
    gives zeros instead of None for an unused input; ``is_grads_batched`` is refused.
    """
    if is_grads_batched:
        raise NotImplementedError(
            "grad: is_grads_batched=True (vmap over grad_outputs) is not supported; loop over "
            "the rows of grad_outputs instead"
        )
    if materialize_grads:
        allow_unused = True
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, xp.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"grad: input {i} does not require grad, so no gradient can be taken with "
                "respect to it; create it with requires_grad=True"
            )
    gs = [_root_gradient(o, g, "grad", create_graph) for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    found = _run(outputs, gs, retain_graph, create_graph, targets=inputs)
    result = []
    for i, t in enumerate(inputs):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            result.append(constant(xp.zeros_like(t._data)) if materialize_grads else None)
        else:
            result.append(g if isinstance(g, Tensor) else constant(g))
    return tuple(result)


def _root_gradient(root: Tensor, gradient, where: str, create_graph: bool):
    if not isinstance(root, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(root).__name__}")
    if getattr(root, "_vops", None) is not None:
        refresh(root)  # a view whose base was written since: the base's new history
    if not root.requires_grad:
        raise RuntimeError(
            f"{where}: this tensor does not require grad and has no graph to go back through. "
            "Mark the inputs you want gradients for with requires_grad=True (or "
            ".requires_grad_()), and make sure the computation is not inside cr.no_grad()."
        )
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{where}: the gradient can be implicit only for a one-element output, but this "
                f"tensor has shape {root.shape}. Reduce it to a scalar first (e.g. loss.sum() or "
                f".mean()), or pass gradient=<tensor of shape {root.shape}> with d(loss)/d(output)."
            )
        g = xp.ones_like(root._data)
    else:
        g = xp.asarray(gradient._data if isinstance(gradient, Tensor) else gradient)
        if g.shape != root.shape:
            raise RuntimeError(
                f"{where}: the gradient has shape {g.shape} but the tensor has shape "
                f"{root.shape}; they must match"
            )
        g = g.astype(root.dtype, copy=False)
    if create_graph:
        return gradient if isinstance(gradient, Tensor) else constant(g)
    return g


class Observer(Protocol):
    """What the backward walk reports, step by step, to whoever watches it: ``cr.compile``'s
    recorder (which turns the steps into a replay) and ``explain``'s ledger (which shows them).
    The walk itself is the same with or without one; with none attached it pays one ``is None``
    test per node and per edge.

    ``keeps_arrays``: whether the observer holds on to the arrays it is shown (the ledger
    does); the walk then makes every running total a new array instead of adding to its own
    sums in place, so that what the observer holds is not changed under it."""

    keeps_arrays: bool = True

    def vjp(self, t: Tensor, upstream, in_grads: Sequence) -> None:
        """``t``'s node ran its VJP with ``upstream`` = d(root)/dt and returned ``in_grads``, one
        per input of the node (None where an input takes no gradient)."""

    def sent(self, t: Tensor | None, to: Tensor, raw, grad, prev, total) -> None:
        """A gradient reached ``to`` from node ``t`` (None: ``to`` is a root and ``grad`` its
        seed): ``raw`` as the VJP returned it, ``grad`` after summing back to ``to``'s shape,
        and ``to``'s running total, ``total = prev + grad`` (``prev`` None for the first)."""

    def leaf(self, t: Tensor, g) -> None:
        """``g``, the whole gradient of ``t``, was added into ``t.grad``."""

    def freed(self, t: Tensor) -> None:
        """``t``'s node let go of its inputs (the walk runs without ``retain_graph``)."""


_observer: Observer | None = None  # set by ``observing``


@contextmanager
def observing(observer: Observer) -> Iterator[None]:
    """Within the block, every backward walk reports its steps to ``observer``."""
    global _observer
    prev, _observer = _observer, observer
    try:
        yield
    finally:
        _observer = prev


_callbacks: list | None = None  # those queued during the walk now running (None: no walk)


def queue_callback(fn) -> None:
    """Runs ``fn()`` once the backward walk now running has ended, every leaf's ``.grad``
    filled: PyTorch's ``Variable._execution_engine.queue_callback``, by which a backward hook
    asks for work after the whole pass (``DistributedDataParallel`` averages gradients so)."""
    if _callbacks is None:
        raise RuntimeError("queue_callback: no backward pass is running")
    tracer = recording()
    if tracer is not None:  # a replay would not run it: cr.compile keeps this step eager
        tracer.escape("a callback queued during backward (e.g. DistributedDataParallel's)")
    _callbacks.append(fn)


def _run(roots, root_grads, retain_graph, create_graph, targets):
    """The walk from ``roots``. Returns the gradients of ``targets`` (by id) when given, else
    fills the ``.grad`` of leaves; then runs what was queued during it. A ``cr.compile``
    recording in progress watches it."""
    global _callbacks
    outer, _callbacks = _callbacks, []
    try:
        tracer = recording()
        if tracer is not None:
            with tracer.watching_backward(create_graph) as observer:
                found = _walk(roots, root_grads, retain_graph, create_graph, targets, observer)
        else:
            found = _walk(roots, root_grads, retain_graph, create_graph, targets, _observer)
        queued = _callbacks
    finally:
        _callbacks = outer
    for fn in queued:
        fn()
    return found


def _walk(roots, root_grads, retain_graph, create_graph, targets, observer):
    """The one backward loop: each tensor in reverse topological order, its VJP applied to the
    sum of the gradients its users sent it, and the results sent on to its inputs."""
    order = toposort(roots)
    grads = _seed(roots, root_grads, observer)
    want = None if targets is None else {id(t) for t in targets}
    found: dict[int, object] = {}
    m, anomaly, now, retained, in_place = _settings(create_graph, want, observer)
    summed: set[int] = set()  # ids of the tensors whose total is a sum made here (see _settings)
    with _GradMode(create_graph):
        while order:
            # Popped, not iterated: once its VJP has run, nothing but this walk refers to an
            # intermediate (its consumers came first and were freed), so its array goes now.
            t = order.pop()
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if want is not None and id(t) in want:
                found[id(t)] = g
            node = t._node
            if node is None or (retained is not None and retained.get(id(t), _dead)() is t):
                if want is None:
                    to_leaf(t, g, create_graph, node is None and id(t) in summed)
                    if observer is not None:
                        observer.leaf(t, g)
                if node is None:
                    continue
            if node._v != now:  # recorded before the latest in-place write somewhere
                check_versions(node, t)
            inputs = node.inputs
            in_grads = _vjp(node, m, g, inputs, t, create_graph)
            if observer is not None:
                observer.vjp(t, g, in_grads)
            for inp, ig in zip(inputs, in_grads):
                if not receives(inp, ig):
                    continue
                raw = ig
                if ig.shape != inp._data.shape:
                    ig = _fit(m, ig, inp, node)
                if anomaly:
                    _check_grad(node, ig)
                key = id(inp)
                prev = grads.get(key)
                if prev is None:
                    total = grads[key] = ig
                elif key in summed and prev.dtype == ig.dtype:  # ours alone: in place
                    prev += ig  # (the operator: np.add(out=) parses keywords, slower on small)
                    total = prev
                else:  # never in place on a VJP's own result (Add gives one array to both inputs)
                    total = grads[key] = prev + ig
                    if in_place and type(total) is xp.ndarray:  # (not a NumPy scalar)
                        summed.add(key)
                if observer is not None:
                    observer.sent(t, inp, raw, ig, prev, total)
            if not retain_graph:
                node.inputs = FREED
                if observer is not None:
                    observer.freed(t)
    return found


def _settings(create_graph: bool, want, observer):
    """What the walk reads once: the math of the VJPs, anomaly mode, the graph's epoch, the
    retained tensors (whose gradient is kept on the way), and whether later gradients may be
    added in place into a sum the walk made: the same sum, rounded the same, without a new array
    per arrival (a value read at every step of an unrolled loop, a weight). The sums are keyed
    by tensor, alive while gradients can reach it. Not under create_graph, nor while an observer
    keeps the arrays it is shown (explain's ledger)."""
    m = tensor_math if create_graph else backend.ArrayMath
    retained = _retained if _retained and want is None else None
    in_place = not create_graph and not getattr(observer, "keeps_arrays", observer is not None)
    return m, state.anomaly, state.epoch, retained, in_place


def _vjp(node, m, g, inputs, t: Tensor, create_graph: bool):
    """The node's VJP of ``g``: on Tensors under ``create_graph`` (so that the gradient is itself
    recorded), else on the raw arrays, with the common one- and two-input calls unrolled."""
    try:
        if create_graph:
            return node.vjp(m, g, *inputs, t)
        if len(inputs) == 1:
            return node.vjp(m, g, inputs[0]._data, t._data)
        if len(inputs) == 2:
            return node.vjp(m, g, inputs[0]._data, inputs[1]._data, t._data)
        return node.vjp(m, g, *[i._data for i in inputs], t._data)
    except ValueError as exc:
        _reshaped_error(node, t, inputs, exc)
        raise


def _fit(m, g, inp: Tensor, node):
    """``g``, the gradient ``node``'s VJP gave its input ``inp``, summed down to inp's shape
    (undoing broadcasting). Where inp was given a new shape in place since the node used it,
    without the change being recorded (``unsqueeze_`` under ``no_grad``, or on a leaf), the
    gradient is reshaped when only size-1 dimensions differ, as PyTorch's engine does, and
    refused otherwise: never a gradient of the wrong shape."""
    shape = inp._data.shape
    if len(g.shape) >= len(shape):
        try:
            out = m.sum_to(g, shape)
        except ValueError:
            out = g
        if out.shape == shape:
            return out
    moved = getattr(inp, "_reshaped", False)
    if moved and [n for n in g.shape if n != 1] == [n for n in shape if n != 1]:
        return g.reshape(shape)
    why = (
        ": the input's shape was changed in place (t_(), transpose_(), resize_() under no_grad) "
        "after the op used it"
        if moved
        else ""
    )
    pos = [i is inp for i in node.inputs].index(True)
    raise RuntimeError(
        f"backward: the {node.name} op returned an invalid gradient for its input {pos}: got "
        f"shape {tuple(g.shape)} but expected a shape compatible with {tuple(shape)}{why}"
        f"\n  (backward called at {user_line()})"
    )


def _reshaped_error(node, t: Tensor, inputs, exc: ValueError) -> None:
    """Raises PyTorch's kind of error when ``node``'s VJP failed on shapes because its result or
    an input was given a new shape in place, unrecorded (under ``no_grad``), after it ran."""
    moved = [x for x in (t, *inputs) if getattr(x, "_reshaped", False)]
    if moved:
        raise RuntimeError(
            f"backward: the {node.name} op cannot compute its gradient ({exc}): a tensor it used "
            f"(now of shape {tuple(moved[0].shape)}) was given a new shape in place (t_(), "
            "transpose_(), unsqueeze_(), resize_() under no_grad) after the op used it"
            f"\n  (backward called at {user_line()})"
        ) from None


def _seed(roots, root_grads, observer) -> dict[int, object]:
    """The gradients the walk starts from: each root's, summed where a root is given twice."""
    grads: dict[int, object] = {}
    for r, g in zip(roots, root_grads):
        prev = grads.get(id(r))
        # Out of place: a VJP may hand the same array to several inputs, or a read-only view.
        total = grads[id(r)] = g if prev is None else prev + g
        if observer is not None:
            observer.sent(None, r, g, g, prev, total)
    return grads


def _dead() -> None:
    """What a retained tensor's weak reference returns once the tensor is gone."""


def receives(inp: Tensor, ig) -> bool:
    """The walk's rule for an edge: the input ``inp`` of a node is sent the gradient ``ig`` that
    the node's VJP returned when there is one (not None) and ``inp`` requires grad; otherwise the
    edge is skipped. The ledger and ``cr.compile``'s recorder apply this same function."""
    return ig is not None and inp._requires_grad


def to_leaf(t: Tensor, g, create_graph: bool, owned: bool = False) -> None:
    """The walk's rule for a leaf (or a retained tensor): stores ``g`` as (or adds it to) its
    ``.grad``, in its dtype. ``owned``: ``g`` is an array seen by no one else (a sum the walk
    made; in a ``cr.compile`` replay, a slot's array), which becomes ``.grad`` without a copy.
    The replays call this same function."""
    if create_graph:
        t._grad = g if t._grad is None else t._grad + g
        return
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    if t.grad is None:
        # A copy, so that .grad never aliases another tensor's gradient or a broadcast view.
        t._grad = constant(g if owned else xp.array(g, copy=True))
    else:
        t._grad = constant(t._grad._data + g)


def _check_grad(node, g) -> None:
    data = g._data if isinstance(g, Tensor) else g
    if backend.kind(data.dtype) in "fc" and not xp.isfinite(data).all():
        where = node.trace or "<created outside detect_anomaly>"
        raise AnomalyError(
            f"detect_anomaly: the backward of {node.name} produced NaN or Inf in an input "
            f"gradient; the {node.name} was created at\n  {where}\n  (backward called at "
            f"{user_line()})"
        )
