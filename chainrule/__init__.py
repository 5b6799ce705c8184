"""chainrule: reverse-mode automatic differentiation on NumPy, and a deep-learning framework on it.

import chainrule as cr
x = cr.tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
x.grad  # tensor([2., 4.])
"""

from chainrule.autograd import (
    Tensor,
    detect_anomaly,
    enable_grad,
    grad,
    gradcheck,
    is_grad_enabled,
    jvp,
    no_grad,
)
from chainrule.autograd.creation import (
    arange,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.autograd.functions import (
    abs,
    amax,
    amin,
    argmax,
    argmin,
    argsort,
    broadcast_to,
    cat,
    clamp,
    clip,
    concatenate,
    cos,
    exp,
    flatten,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    median,
    min,
    minimum,
    permute,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sort,
    sqrt,
    squeeze,
    stack,
    std,
    sum,
    swapaxes,
    tanh,
    topk,
    transpose,
    unsqueeze,
    var,
    where,
)
from chainrule.autograd.tensor import Size, result_type
from chainrule.backend import bool_ as bool
from chainrule.backend import float32, float64, get_default_dtype, int64, set_default_dtype
from chainrule.errors import AnomalyError, GradcheckError, ShapeError
from chainrule.random import manual_seed

# isort: split
# The layers above the engine; imported after it because they build on it.
from chainrule import data, datasets, distributed, nn, optim, viz
from chainrule.checkpoint import load, save
from chainrule.jit import CompiledStep, compile

__version__ = "0.1.0"
