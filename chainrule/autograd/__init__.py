"""The autograd layer: Tensor, reverse mode, forward mode, gradcheck, anomaly detection."""

from chainrule.autograd.tensor import Tensor  # noqa: I001  (Tensor first: the rest build on it)
from chainrule.autograd import tensor_math
from chainrule.autograd.anomaly import detect_anomaly
from chainrule.autograd.engine import backward, grad
from chainrule.autograd.forward import jvp
from chainrule.autograd.check import gradcheck, numerical_jacobian, analytical_jacobian
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.custom import Function, FunctionCtx

__all__ = [
    "Function", "FunctionCtx", "Tensor", "analytical_jacobian", "backward", "detect_anomaly", "enable_grad", "grad", "gradcheck",
    "inference_mode", "is_grad_enabled", "jvp", "no_grad", "numerical_jacobian",
    "set_grad_enabled", "tensor_math", "Variable",
]  # fmt: skip


def Variable(data, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """``torch.autograd.Variable``: the tensor itself, as in modern PyTorch (``requires_grad``
    marks it)."""
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t
