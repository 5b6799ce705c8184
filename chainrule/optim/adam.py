"""Adam and AdamW: bias-corrected running averages of the gradient and its square."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.backend import xp
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


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), exactly PyTorch's ``Adam``.

    For each parameter θ with gradient g, at step t = 1, 2, ... (γ learning rate, β1, β2 betas,
    ε eps, λ weight decay)::

        g  <- g + λ θ                                (if λ != 0: L2 penalty, coupled)
        mt <- β1 m(t-1) + (1 - β1) g                 (first moment)
        vt <- β2 v(t-1) + (1 - β2) g²                (second moment)
        v̂t <- max(v̂(t-1), vt)   if amsgrad   else  vt
        θ  <- θ - γ / (1 - β1^t) · mt / (√v̂t / √(1 - β2^t) + ε)

    m, v and v̂ start at zero; the factors 1 - β^t undo their bias towards zero early on.
    With L2 weight decay the penalty passes through the moment estimates; ``AdamW`` decays the
    weights directly instead, which is usually what is wanted.

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: γ (>= 0). betas: (β1, β2), each in [0, 1). eps: ε (>= 0).
        weight_decay: λ (>= 0). amsgrad: use the running maximum of v (Reddi et al., 2018).

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v),
    ``max_exp_avg_sq`` (v̂, if amsgrad).
    """

    # AdamW sets this: weight decay multiplies θ instead of adding to g.
    _decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        **torch_options: Any,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        defaults.update(torch_flags(type(self).__name__, torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        for key in ("lr", "eps", "weight_decay"):
            group[key] = check_real(name, key, group[key])
        group["betas"] = check_betas(name, group["betas"])
        group["amsgrad"] = check_bool(name, "amsgrad", group["amsgrad"])

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam (or AdamW) update of every parameter that has a gradient."""
        loss = self._evaluate(closure)
        decoupled = self._decoupled_weight_decay
        for group, params in self._with_grads():
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad = group["weight_decay"], group["amsgrad"]
            for i, p, g in params:
                state = self.state.get(i)
                if state is None:
                    state = self.state[i] = {
                        "step": 0,
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
                m, v = state["exp_avg"], state["exp_avg_sq"]
                t = xp.empty_like(p)  # scratch, reused for every intermediate below
                lerp_(m, g, 1.0 - beta1, t)
                v *= beta2
                xp.multiply(g, 1.0 - beta2, out=t)
                t *= g
                v += t
                if amsgrad:
                    vmax = state.get("max_exp_avg_sq")
                    if vmax is None:
                        vmax = state["max_exp_avg_sq"] = xp.zeros_like(p)
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                step_size = lr / (1.0 - beta1**step)
                bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
                xp.sqrt(v, out=t)
                t /= bias_correction2_sqrt
                t += eps
                xp.divide(m, t, out=t)
                t *= step_size
                p -= t
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, exactly PyTorch's
    ``AdamW``.

    The same update as ``Adam`` except that weight decay shrinks the parameters directly, before
    the Adam step, instead of entering the gradient (and so the moment estimates)::

        θ  <- θ (1 - γ λ)
        mt, vt, v̂t as in Adam, from the raw gradient g
        θ  <- θ - γ / (1 - β1^t) · mt / (√v̂t / √(1 - β2^t) + ε)

    Args: as ``Adam``, with ``weight_decay`` λ defaulting to 1e-2.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        **torch_options: Any,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, **torch_options)
