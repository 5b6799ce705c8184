"""RMSprop: steps scaled by a running average of squared gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import xp
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_bool,
    check_real,
    lerp_,
    torch_flags,
    with_weight_decay,
)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), exactly PyTorch's ``RMSprop``.

    For each parameter θ with gradient g (γ learning rate, α smoothing constant, ε eps,
    λ weight decay, μ momentum)::

        g  <- g + λ θ                                    (if λ != 0)
        vt <- α v(t-1) + (1 - α) g²
        mt <- α m(t-1) + (1 - α) g                       (if centered)
        σt  = √(vt - mt²) + ε   if centered   else  √vt + ε
        bt <- μ b(t-1) + g / σt ;  θ <- θ - γ bt         (if μ > 0)
        θ  <- θ - γ g / σt                               (if μ = 0)

    v, m, b start at zero. Centered RMSprop divides by an estimate of the gradient's standard
    deviation instead of its root mean square.

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). alpha: α in [0, 1]. eps: ε (>= 0). weight_decay: λ (>= 0).
        momentum: μ (>= 0). centered: use the centered variant.

    State per parameter: ``step`` (int), ``square_avg`` (v), ``momentum_buffer`` (b, if μ > 0),
    ``grad_avg`` (m, if centered).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        **torch_options: Any,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay", "momentum", "alpha"):
            group[key] = check_real("RMSprop", key, group[key])
        if group["alpha"] > 1:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']}; it must be in [0, 1]")
        group["centered"] = check_bool("RMSprop", "centered", group["centered"])

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One RMSprop update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    state = self.state[i] = {"step": 0, "square_avg": xp.zeros_like(p)}
                state["step"] += 1
                if wd != 0:
                    g = with_weight_decay(g, p, wd)
                # Scratch for every intermediate below (out= keeps a 0-d result an array).
                t = xp.multiply(g, 1.0 - alpha, out=xp.empty_like(p))
                t *= g
                v = state["square_avg"]
                v *= alpha
                v += t
                if centered:
                    m = state.get("grad_avg")
                    if m is None:
                        m = state["grad_avg"] = xp.zeros_like(p)
                    lerp_(m, g, 1.0 - alpha, t)
                    xp.multiply(m, m, out=t)
                    xp.subtract(v, t, out=t)
                    xp.sqrt(t, out=t)
                else:
                    xp.sqrt(v, out=t)
                t += eps
                xp.divide(g, t, out=t)
                if mu > 0:
                    b = state.get("momentum_buffer")
                    if b is None:
                        b = state["momentum_buffer"] = xp.zeros_like(p)
                    b *= mu
                    b += t
                    xp.multiply(b, lr, out=t)
                else:
                    t *= lr
                p -= t
        return loss
