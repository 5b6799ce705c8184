"""chainrule: reverse-mode automatic differentiation on NumPy, and a deep-learning framework on it.

import chainrule as cr
x = cr.tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
x.grad  # tensor([2., 4.])
"""

# isort: off
# First of all, before the second of imports below: when this process is the `chainrule` command
# (its script, or `python -m chainrule[.cli.main]`), Ctrl-C or SIGTERM from here on ends it in one
# line, exit 130/143 (chainrule/cli/interrupts.py). A program that imports chainrule is left alone.
from chainrule.cli import interrupts as _interrupts

if _interrupts.started_as_command():
    _interrupts.guard_start()
# isort: on

from chainrule import backends, memory  # memory: on import, freed arrays stay for reuse
from chainrule.autograd import (
    Tensor,
    detect_anomaly,
    enable_grad,
    grad,
    gradcheck,
    inference_mode,
    is_grad_enabled,
    jvp,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.creation import (
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from chainrule.autograd.indexing import (
    chunk,
    flip,
    gather,
    index_select,
    masked_fill,
    masked_select,
    narrow,
    roll,
    scatter,
    scatter_add,
    split,
    tril,
    triu,
    unbind,
)
from chainrule.autograd.linalg import bmm, dot, einsum, matmul, mm
from chainrule.autograd.pointwise import (
    abs,
    add,
    allclose,
    ceil,
    clamp,
    clip,
    clone,
    cos,
    div,
    eq,
    equal,
    exp,
    floor,
    ge,
    gt,
    isclose,
    le,
    lerp,
    log,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    relu,
    round,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tan,
    tanh,
    trunc,
    where,
)
from chainrule.autograd.promotion import result_type
from chainrule.autograd.reductions import (
    amax,
    amin,
    argmax,
    argmin,
    cumprod,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from chainrule.autograd.shape import (
    broadcast_to,
    cat,
    concatenate,
    flatten,
    numel,
    permute,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from chainrule.autograd.sorting import argsort, median, sort, topk
from chainrule.autograd.tensor import Size
from chainrule.backend import (
    bfloat16,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from chainrule.backend import bool_ as bool
from chainrule.devices import (
    accelerator,
    device,
    get_default_device,
    set_default_device,
)
from chainrule.errors import AnomalyError, GradcheckError, ShapeError
from chainrule.random import Generator, manual_seed

# isort: split
# The layers above the engine; imported after it because they build on it.
from chainrule import amp, cuda, data, datasets, distributed, explain, nn, onnx, optim, utils, viz
from chainrule.amp import GradScaler, autocast, get_autocast_dtype, is_autocast_enabled
from chainrule.jit import CompiledStep, compile
from chainrule.serialization import load, save

# PyTorch's other names for the dtypes (torch.float is float32, torch.int is int32, ...).
float, double, half, long, int, short = float32, float64, float16, int64, int32, int16

__version__ = "0.1.0"
