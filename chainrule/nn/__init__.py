"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses (``cr.nn``)."""

from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm1d, LayerNorm, _BatchNorm
from chainrule.nn.parameter import Parameter
