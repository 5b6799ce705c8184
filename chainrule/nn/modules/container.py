"""``torch.nn.modules.container``'s path for the classes defined in ``chainrule.nn.container``."""

from chainrule.nn.container import ModuleDict, ModuleList, ParameterList, Sequential

__all__ = ["ModuleDict", "ModuleList", "ParameterList", "Sequential"]
