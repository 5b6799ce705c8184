"""Learning-rate schedules: ``LambdaLR``, ``MultiplicativeLR``, ``StepLR``, ``MultiStepLR``,
``ExponentialLR``, ``LinearLR``, ``ConstantLR``, ``CosineAnnealingLR``,
``CosineAnnealingWarmRestarts``, ``OneCycleLR``, ``CyclicLR``, ``SequentialLR``,
``ReduceLROnPlateau``.

A scheduler changes ``group["lr"]`` of its optimiser's parameter groups; call its ``step()``
once per epoch, after the epoch's ``optimizer.step()`` calls. The sequences of learning rates
are PyTorch's, computed the same way (recursively from the current lr where PyTorch does, so that
schedules compose with other changes to the lr and agree to the last bit).

The schedules live by family: ``step`` (the multiplicative ones: StepLR, MultiStepLR,
ExponentialLR, ConstantLR, LinearLR, LambdaLR, MultiplicativeLR), ``cosine``, ``cyclic``
(CyclicLR, OneCycleLR), ``plateau`` and ``sequential``; ``base`` holds ``LRScheduler``.
"""

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.lr_scheduler.cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from chainrule.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau
from chainrule.optim.lr_scheduler.sequential import SequentialLR
from chainrule.optim.lr_scheduler.step import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    StepLR,
)

__all__ = [
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
