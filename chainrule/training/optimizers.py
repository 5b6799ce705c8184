"""Optimisers by the names the CLI accepts."""

from __future__ import annotations

from chainrule import optim

OPTIMIZERS = {
    "sgd": lambda p, lr: optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9),
    "nesterov": lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True),
    "adagrad": lambda p, lr: optim.Adagrad(p, lr=lr),
    "rmsprop": lambda p, lr: optim.RMSprop(p, lr=lr),
    "adam": lambda p, lr: optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: optim.AdamW(p, lr=lr),
}


def make_optimizer(name: str, params, lr: float) -> optim.Optimizer:
    """The optimiser called ``name`` (sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw)."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key](list(params), lr)
