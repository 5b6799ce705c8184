"""Optimisers and learning-rate schedules: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``,
``AdamW``, and ``cr.optim.lr_scheduler``.

Each optimiser follows PyTorch's update rule exactly (the equations are in its docstring),
validates its hyperparameters, keeps per-parameter state, and updates ``p.data`` in place.
"""

from chainrule.optim import lr_scheduler
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
