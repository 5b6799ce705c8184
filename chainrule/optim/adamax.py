"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import xp
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_betas,
    check_real,
    lerp_,
    torch_flags,
    with_weight_decay,
)


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7), exactly PyTorch's ``Adamax``.

    For each parameter θ with gradient g, at step t = 1, 2, ... (γ learning rate, β1, β2 betas,
    ε eps, λ weight decay)::

        g  <- g + λ θ                                  (if λ != 0)
        mt <- β1 m(t-1) + (1 - β1) g                   (exp_avg)
        ut <- max(β2 u(t-1), |g| + ε)                  (exp_inf, elementwise)
        θ  <- θ - γ / (1 - β1^t) · mt / ut

    m and u start at zero. ε sits inside the max (as in PyTorch), not in the division.

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). betas: (β1, β2), each in [0, 1). eps: ε (>= 0). weight_decay: λ (>= 0).

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_inf`` (u).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        **torch_options: Any,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay"):
            group[key] = check_real("Adamax", key, group[key])
        group["betas"] = check_betas("Adamax", group["betas"])

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adamax update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd = group["weight_decay"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    state = self.state[i] = {
                        "step": 0,
                        "exp_avg": xp.zeros_like(p),
                        "exp_inf": xp.zeros_like(p),
                    }
                state["step"] += 1
                if wd != 0:
                    g = with_weight_decay(g, p, wd)
                m, u = state["exp_avg"], state["exp_inf"]
                t = xp.empty_like(p)
                lerp_(m, g, 1.0 - beta1, t)
                u *= beta2
                xp.abs(g, out=t)
                t += eps
                xp.maximum(u, t, out=u)
                clr = lr / (1.0 - beta1 ** state["step"])
                xp.divide(m, u, out=t)
                t *= clr
                p -= t
        return loss
