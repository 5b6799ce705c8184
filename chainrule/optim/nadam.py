"""NAdam: Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import get_default_dtype, xp
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    check_betas,
    check_bool,
    check_real,
    lerp_,
    torch_flags,
    with_weight_decay,
)


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), exactly PyTorch's ``NAdam``.

    For each parameter θ with gradient g, at step t = 1, 2, ... (γ learning rate, β1, β2 betas,
    ε eps, λ weight decay, ψ momentum_decay)::

        θ  <- θ (1 - γ λ)   if decoupled_weight_decay   else   g <- g + λ θ   (if λ != 0)
        μt  = β1 (1 - ½ · 0.96^(t ψ)) ;  μ(t+1) = β1 (1 - ½ · 0.96^((t+1) ψ))
        Πt  = μ1 μ2 ... μt                               (mu_product)
        mt <- β1 m(t-1) + (1 - β1) g
        vt <- β2 v(t-1) + (1 - β2) g²
        D   = √(vt / (1 - β2^t)) + ε
        θ  <- θ - γ (1 - μt) / (1 - Πt) · g / D - γ μ(t+1) / (1 - Πt μ(t+1)) · mt / D

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). betas: (β1, β2), each in [0, 1). eps: ε (>= 0). weight_decay: λ (>= 0).
        momentum_decay: ψ (>= 0). decoupled_weight_decay: decay θ directly, as AdamW does
            (NAdamW), rather than adding λ θ to the gradient.

    State per parameter: ``step`` (int), ``mu_product`` (float, Πt, rounded to the default
    dtype at each step as PyTorch's 0-d tensor is), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        **torch_options: Any,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay", "momentum_decay"):
            group[key] = check_real("NAdam", key, group[key])
        group["betas"] = check_betas("NAdam", group["betas"])
        group["decoupled_weight_decay"] = check_bool(
            "NAdam", "decoupled_weight_decay", group["decoupled_weight_decay"]
        )

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One NAdam update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, psi = group["weight_decay"], group["momentum_decay"]
            decoupled = group["decoupled_weight_decay"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    state = self.state[i] = {
                        "step": 0,
                        "mu_product": 1.0,
                        "exp_avg": xp.zeros_like(p),
                        "exp_avg_sq": xp.zeros_like(p),
                    }
                state["step"] += 1
                step = state["step"]
                if wd != 0:
                    if decoupled:
                        p *= 1.0 - lr * wd
                    else:
                        g = with_weight_decay(g, p, wd)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
                # PyTorch keeps the product in a 0-d tensor of the default dtype (float32 unless
                # set otherwise), so it is rounded to that dtype at every step; so here.
                dt = get_default_dtype().type
                mu_product = float(dt(state["mu_product"]) * dt(mu))
                state["mu_product"] = mu_product
                m, v = state["exp_avg"], state["exp_avg_sq"]
                t = xp.empty_like(p)
                lerp_(m, g, 1.0 - beta1, t)
                v *= beta2
                xp.multiply(g, 1.0 - beta2, out=t)
                t *= g
                v += t
                denom = xp.divide(v, 1.0 - beta2**step, out=xp.empty_like(p))
                xp.sqrt(denom, out=denom)
                denom += eps
                xp.divide(g, denom, out=t)
                t *= lr * (1.0 - mu) / (1.0 - mu_product)
                p -= t
                xp.divide(m, denom, out=t)
                t *= lr * mu_next / (1.0 - mu_product * mu_next)
                p -= t
        return loss
