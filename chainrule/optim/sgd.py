"""Stochastic gradient descent, with momentum and Nesterov momentum."""

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
    torch_flags,
    with_weight_decay,
)


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), exactly PyTorch's ``SGD``.

    For each parameter θ with gradient g, at step t (μ momentum, τ dampening, λ weight decay,
    γ learning rate)::

        g  <- g + λ θ                          (if λ != 0)
        b1 <- g                                (first step with momentum: the buffer starts at g)
        bt <- μ b(t-1) + (1 - τ) g             (later steps)
        d  <- g + μ bt   if nesterov  else  bt (if μ != 0; otherwise d <- g)
        θ  <- θ - γ d

    Args:
        params: Tensors or parameter groups (dicts), see ``Optimizer``.
        lr: learning rate γ (>= 0).
        momentum: μ (>= 0); 0 is plain SGD.
        dampening: τ, the fraction of the new gradient left out of the buffer.
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        weight_decay: λ (>= 0), L2 penalty added to the gradient.

    The arguments are PyTorch's, in PyTorch's order (``lr`` defaults to 1e-3 as there), plus
    its switches ``maximize``, ``foreach``, ... (see ``Optimizer``).

    State per parameter: ``momentum_buffer`` (when μ != 0).

    Example:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        **torch_options: Any,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )
        defaults.update(torch_flags("SGD", torch_options))
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = check_real("SGD", "lr", group["lr"])
        group["momentum"] = check_real("SGD", "momentum", group["momentum"])
        group["dampening"] = check_real("SGD", "dampening", group["dampening"], low=None)
        group["weight_decay"] = check_real("SGD", "weight_decay", group["weight_decay"])
        group["nesterov"] = check_bool("SGD", "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening == 0, got momentum="
                f"{group['momentum']}, dampening={group['dampening']}"
            )

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SGD update of every parameter that has a gradient (see the class docstring)."""
        loss = self._evaluate(closure)
        for group, params in self._with_grads():
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            if mu == 0 and wd == 0:  # plain SGD: θ <- θ - γ g, with no per-parameter branching
                for _, p, g in params:
                    p -= lr * g
                continue
            keep = 1.0 - group["dampening"]
            nesterov = group["nesterov"]
            for i, p, g in params:
                own = False  # whether `d` is scratch we may overwrite (never p.grad or the buffer)
                d = g
                if wd != 0:
                    d = with_weight_decay(g, p, wd)
                    own = True
                if mu != 0:
                    state = self.state.setdefault(i, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        state["momentum_buffer"] = buf = xp.array(d, copy=True)
                    else:
                        buf *= mu
                        if keep == 1.0:
                            buf += d
                        else:
                            buf += d * keep
                    if nesterov:
                        if own:
                            d += mu * buf
                        else:
                            d = xp.multiply(buf, mu, out=xp.empty_like(p))
                            d += g
                            own = True
                    else:
                        d, own = buf, False
                if own:
                    d *= lr
                    p -= d
                else:
                    p -= lr * d
        return loss
