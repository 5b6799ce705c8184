"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import xp
from chainrule.optim.optimizer import Optimizer, ParamsT, check_real, torch_flags, with_weight_decay


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), exactly PyTorch's ``Adagrad``.

    For each parameter θ with gradient g, at step t = 1, 2, ... (γ learning rate, η lr decay,
    λ weight decay, ε eps, s0 = initial_accumulator_value)::

        g  <- g + λ θ                          (if λ != 0)
        γt  = γ / (1 + (t - 1) η)
        st <- s(t-1) + g²
        θ  <- θ - γt g / (√st + ε)

    Coordinates that have seen large gradients take small steps, rarely-updated ones large steps.

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). lr_decay: η (>= 0). weight_decay: λ (>= 0).
        initial_accumulator_value: s0 (>= 0), the starting value of every coordinate of s.
        eps: ε (>= 0), keeps the division finite.

    State per parameter: ``step`` (int), ``sum`` (s, the parameter's shape).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        **torch_options: Any,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[key] = check_real("Adagrad", key, group[key])

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adagrad update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, decay, wd, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    s0 = group["initial_accumulator_value"]
                    state = self.state[i] = {"step": 0, "sum": xp.full_like(p, s0)}
                state["step"] += 1
                clr = lr / (1 + (state["step"] - 1) * decay)
                if wd != 0:
                    g = with_weight_decay(g, p, wd)
                total = state["sum"]
                # Scratch: g², then the denominator, then the step. (out= keeps 0-d an array.)
                t = xp.multiply(g, g, out=xp.empty_like(p))
                total += t
                xp.sqrt(total, out=t)
                t += eps
                xp.divide(g, t, out=t)
                t *= clr
                p -= t
        return loss
