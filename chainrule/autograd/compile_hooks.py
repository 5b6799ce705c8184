"""What ``cr.compile`` needs to hear about beyond the ops: fresh random draws, effects on state
outside the graph, and whole calls to replay (an optimiser's ``step``)."""

from __future__ import annotations

import functools

from chainrule.autograd.grad_mode import recording


def redrawn(fn, *args):
    """``fn(*args)`` for an array that must be drawn anew at every call (a dropout mask, a random
    tensor); ``cr.compile`` records the call and makes it again at every replay."""
    out = fn(*args)
    tracer = recording()
    if tracer is not None:
        tracer.redrawn(fn, args, out)
    return out


def side_effect(fn, *args) -> None:
    """Runs ``fn(*args)``, a change to state outside the graph (BatchNorm's running statistics);
    ``cr.compile`` records it and runs it again at every replay. ``args`` are passed as they are
    (Tensors as objects, so ``fn`` reads their ``.data`` when it runs)."""
    fn(*args)
    tracer = recording()
    if tracer is not None:
        tracer.side_effect(fn, args)


def replayed_whole(method):
    """Decorates a method with effects on training state (an optimiser's ``step``), so that a
    ``cr.compile`` recording replays the whole call rather than the ops inside it."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        tracer = recording()
        if tracer is None:
            return method(*args, **kwargs)
        return tracer.call(method, args, kwargs)

    wrapper.__replayed_whole__ = True
    return wrapper
