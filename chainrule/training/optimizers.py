"""Optimisers by the names the CLI accepts."""

from __future__ import annotations

import inspect

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


# The class behind each name, whose ``lr=`` default is the one documented in its signature.
CLASSES = {
    "sgd": optim.SGD,
    "momentum": optim.SGD,
    "nesterov": optim.SGD,
    "adagrad": optim.Adagrad,
    "rmsprop": optim.RMSprop,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
}


def default_lr(name: str) -> tuple[float, str]:
    """The documented default learning rate of optimiser ``name`` (its class's ``lr=`` default,
    PyTorch's) and the class's name: ``default_lr("adam") == (0.001, "Adam")``."""
    cls = CLASSES[name.lower()]
    return float(inspect.signature(cls.__init__).parameters["lr"].default), cls.__name__
