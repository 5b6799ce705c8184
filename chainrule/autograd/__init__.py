"""The autograd layer: Tensor, reverse mode, forward mode, gradcheck, anomaly detection."""

from chainrule.autograd.tensor import Tensor  # noqa: I001  (Tensor first: the rest build on it)
from chainrule.autograd import functions
from chainrule.autograd.anomaly import detect_anomaly
from chainrule.autograd.engine import backward, grad
from chainrule.autograd.forward import jvp
from chainrule.autograd.check import gradcheck, numerical_jacobian, analytical_jacobian
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from chainrule.autograd.custom import Function, FunctionCtx

__all__ = [
    "Function", "FunctionCtx", "Tensor", "analytical_jacobian", "backward", "detect_anomaly", "enable_grad", "functions", "grad", "gradcheck",
    "is_grad_enabled", "jvp", "no_grad", "numerical_jacobian",
]  # fmt: skip
