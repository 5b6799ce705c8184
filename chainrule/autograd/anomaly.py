"""``detect_anomaly``: stop at the first NaN or Inf, naming the op and the user's line."""

from __future__ import annotations

from chainrule.autograd.grad_mode import state


class detect_anomaly:
    """Within this block every op result and every gradient is checked for NaN/Inf; the first one
    found raises ``AnomalyError`` naming the op and the line of user code that created it.

    It records where each op was created, so it slows ops down: use it to find a bug, not to train.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        self.prev = state.anomaly
        state.anomaly = self.enabled
        return self

    def __exit__(self, *exc):
        state.anomaly = self.prev
