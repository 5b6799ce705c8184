"""Global switches of the autograd layer: gradient recording, forward mode, anomaly detection.

They are process-wide (not per thread), which is what a single-threaded NumPy framework needs.
"""

from __future__ import annotations

import functools


class _State:
    grad_enabled = True  # record graph nodes for reverse mode
    forward_level = 0  # > 0 while cr.jvp runs: propagate tangents
    anomaly = False  # check every result for NaN/Inf and remember where ops were created
    tracer = (
        None  # a cr.compile recording in progress (chainrule.jit.recording._Recording), else None
    )
    # Counts in-place writes. A graph node keeps the count at its creation (``op._v``) and a tensor
    # the count at its last in-place write (``_vstamp``): the backward walk compares the two only
    # for nodes older than the newest write, so a step without in-place writes pays one comparison.
    epoch = 0


state = _State


def recording():
    """The ``cr.compile`` recording that eager code must report to now, or None: None when no
    step is being recorded, or while the recorder itself runs the code (inside an op it records,
    a whole call it replays, the backward walk it watches), which it records as one entry."""
    tracer = state.tracer
    return None if tracer is None or tracer.busy else tracer


class _GradMode:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        state.grad_enabled = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad() -> _GradMode:
    """Context manager (or decorator) in which no graph is recorded: results need no gradient."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager (or decorator) that records the graph again inside a ``no_grad`` block."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """Whether ops record graph nodes right now."""
    return state.grad_enabled


class set_grad_enabled(_GradMode):
    """Turns recording on or off now (``cr.set_grad_enabled(False)`` as a call), and, used as a
    context manager or decorator, back to what it was at the end of the block."""

    def __init__(self, mode: bool):
        super().__init__(bool(mode))
        self.prev = state.grad_enabled
        state.grad_enabled = self.enabled

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        state.grad_enabled = self.prev

    def __call__(self, fn):
        state.grad_enabled = self.prev  # as a decorator it changes nothing until fn runs
        return super().__call__(fn)


def inference_mode(mode: bool = True) -> _GradMode:
    """As ``no_grad`` (PyTorch's faster variant; here the two are the same)."""
    return _GradMode(not mode)
