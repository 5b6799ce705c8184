"""Optimisers and learning-rate schedules: ``SGD``, ``Adagrad``, ``Adadelta``, ``RMSprop``,
``Adam``, ``AdamW``, ``Adamax``, ``NAdam``, ``LBFGS``,
and ``cr.optim.lr_scheduler``.

Each optimiser follows PyTorch's update rule exactly (the equations are in its docstring),
validates its hyperparameters, keeps per-parameter state, and updates each parameter in place.
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adadelta import Adadelta
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.adamax import Adamax
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.nadam import NAdam
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
