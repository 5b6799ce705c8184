"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import xp
from chainrule.optim.optimizer import Optimizer, ParamsT, check_real, torch_flags, with_weight_decay


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), exactly PyTorch's ``Adadelta``.

    For each parameter θ with gradient g (γ learning rate, ρ rho, ε eps, λ weight decay)::

        g  <- g + λ θ                                  (if λ != 0)
        vt <- ρ v(t-1) + (1 - ρ) g²                    (square_avg)
        Δt  = √(u(t-1) + ε) / √(vt + ε) · g
        ut <- ρ u(t-1) + (1 - ρ) Δt²                   (acc_delta)
        θ  <- θ - γ Δt

    v and u start at zero. The ratio of the two root mean squares gives the update the units of
    θ, so ``lr`` (default 1.0) only rescales it.

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). rho: ρ in [0, 1]. eps: ε (>= 0). weight_decay: λ (>= 0).

    State per parameter: ``step`` (int), ``square_avg`` (v), ``acc_delta`` (u).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        **torch_options: Any,
    ):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "rho", "eps", "weight_decay"):
            group[key] = check_real("Adadelta", key, group[key])
        if group["rho"] > 1:
            raise ValueError(f"Adadelta: invalid rho {group['rho']}; it must be in [0, 1]")

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adadelta update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    state = self.state[i] = {
                        "step": 0,
                        "square_avg": xp.zeros_like(p),
                        "acc_delta": xp.zeros_like(p),
                    }
                state["step"] += 1
                if wd != 0:
                    g = with_weight_decay(g, p, wd)
                v, u = state["square_avg"], state["acc_delta"]
                v *= rho
                v += xp.multiply(g, 1.0 - rho, out=xp.empty_like(p)) * g
                std = xp.sqrt(v + eps)
                delta = xp.sqrt(u + eps)
                delta /= std
                delta *= g
                u *= rho
                u += xp.multiply(delta, 1.0 - rho, out=xp.empty_like(p)) * delta
                delta *= lr
                p -= delta
        return loss
