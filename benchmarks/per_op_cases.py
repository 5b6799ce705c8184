"""The cases of ``bench_per_op.py``: every op of tests/op_table.py at ~10^6 elements, and the layer
ops (convolution, pooling, normalisation, attention, RNN cells, losses, embedding) at typical
shapes, each as one function that runs unchanged on chainrule's tensors and on PyTorch's.

The op table's own lambdas are reused: they are rebound so that their name ``cr`` means ``torch``
(chainrule copies PyTorch's API), so an op added to the table is benchmarked without a line here.
Where that rebinding cannot work (an argument PyTorch spells differently, a shape fixed inside the
lambda), ``TORCH_FN`` or ``BIG_SHAPES`` below say so for that op by name.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import op_table  # tests/op_table.py: the ops the gradcheck tests cover


@dataclass
class Case:
    """One benchmark: ``build(lib)`` returns the function to time for ``lib`` ("cr" or "torch");
    ``arrays`` are its inputs (float arrays get gradients, integer ones do not)."""

    name: str
    kind: str  # "table" (tests/op_table.py) or "layer"
    build: Callable[[str], Callable]
    arrays: list[np.ndarray]
    note: str = ""
    params: dict = field(default_factory=dict)  # module cases: the shared initial weights


# ----- the op table, on torch -----
class _TorchAsCr:
    """``cr.<name>`` answered by ``torch.<name>``: what the table's lambdas call, on torch."""

    def __getattr__(self, name):
        import torch

        return getattr(torch, name)


def _rebound_table_globals() -> dict:
    """op_table's module namespace with ``cr`` meaning torch, its helpers rebound to it too."""
    g = dict(vars(op_table))
    g["cr"] = _TorchAsCr()
    for key, obj in list(g.items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == op_table.__name__:
            g[key] = _rebind(obj, g)
    return g


def _rebind(fn: types.FunctionType, g: dict) -> Callable:
    """The table's lambda with ``g`` as its globals; a chainrule function given directly in the
    table (``cr.exp``) becomes torch's function of the same name."""
    if fn.__module__ != op_table.__name__:
        import torch

        return getattr(torch, fn.__name__)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


# Where the table's lambda does not run on torch as written: PyTorch's spelling of the same op.
TORCH_FN: dict[str, Callable] = {
    # chainrule's transpose also takes NumPy's forms (no axes, or all of them); PyTorch's permute
    "transpose": lambda x: x.permute(*reversed(range(x.ndim))),
    "transpose_axes": lambda x: x.permute(1, 2, 0),
    "erf": lambda x: x.erf(),  # chainrule also has it in nn.functional, PyTorch does not
    # chainrule takes NumPy arrays and lists as indices; PyTorch wants tensors
    "gather": lambda x: x.gather(-1, _torch_first_and_last(x)),
    "scatter_add": lambda x: x.scatter_add(-1, _torch_first_and_last(x), x[..., :2] * 3),
    "index_select": lambda x: x.index_select(-1, _torch_index([0, 0, x.shape[-1] - 1])),
}


def _torch_index(i):
    import torch

    return torch.tensor(i)


def _torch_first_and_last(x):
    import torch

    return torch.from_numpy(op_table._first_and_last(x.detach().numpy()))


# Ops whose lambda fixes a size, or whose table shapes do not scale: their large inputs.
BIG_SHAPES: dict[str, list[tuple]] = {
    "broadcast_to": [(3, 4)],  # the lambda broadcasts to (2, 3, 4): its output is the op
    "reshape_2d": [(1000, 1000)],
    "transpose_axes": [(100, 100, 100)],
    "matmul": [(256, 1024), (1024, 1024)],
    "dot": [(1_000_000,), (1_000_000,)],
    "linear": [(256, 1024), (1024, 1024), (1024,)],
    "linear_no_bias": [(256, 1024), (1024, 1024)],
    "affine_grid": [(2, 2, 3)],  # the output size is fixed in the lambda
    "affine_grid_align": [(2, 2, 3)],
}
for _mode in ("bilinear", "nearest"):
    for _pad in ("zeros", "border", "reflection"):
        for _align in (False, True):
            BIG_SHAPES[f"grid_sample_{_mode}_{_pad}_{_align}"] = [(8, 16, 64, 64), (8, 64, 64, 2)]


def scaled_shapes(op: op_table.OpCase, elements: int) -> list[tuple]:
    """The op's largest table case with every dimension above 1 scaled by one factor, so that
    its largest input has about ``elements`` elements (equal sizes stay equal: broadcasting and
    matching dimensions survive)."""
    if op.name in BIG_SHAPES:
        return BIG_SHAPES[op.name]
    shapes = max(op.shapes, key=lambda ss: (max(math.prod(s) for s in ss), len(ss[0])))
    big = max(shapes, key=math.prod)
    n_dims = sum(d > 1 for d in big)
    k = (elements / math.prod(big)) ** (1 / max(n_dims, 1))
    return [tuple(max(1, round(d * k)) if d > 1 else d for d in s) for s in shapes]


def table_cases(elements: int, rng: np.random.Generator) -> list[Case]:
    """Every op of tests/op_table.py at about ``elements`` elements (float32)."""
    g = _rebound_table_globals()
    out = []
    for op in op_table.ALL:
        shapes = scaled_shapes(op, elements) if elements else max(op.shapes, key=_size)
        arrays = [op_table.draw(s, op.domain, rng).astype(np.float32) for s in shapes]
        if op.domain == "distinct" and len(arrays) == 2:
            arrays[1] = arrays[1] + np.float32(0.125)  # as the gradcheck: a and b never tie
        theirs = TORCH_FN.get(op.name) or _rebind(op.fn, g)

        def build(lib, ours=op.fn, theirs=theirs):
            return ours if lib == "cr" else theirs

        out.append(Case(op.name, "table", build, arrays))
    return out


def _size(shapes) -> int:
    return max(math.prod(s) for s in shapes)


# ----- the layer ops -----
def _functional(fn: Callable) -> Callable[[str], Callable]:
    """``fn(F, *tensors)`` with F the library's ``nn.functional``."""

    def build(lib):
        if lib == "cr":
            import chainrule.nn.functional as F
        else:
            import torch.nn.functional as F
        return lambda *xs: fn(F, *xs)

    return build


def _module(cls: str, args: tuple, call: Callable) -> Callable[[str], Callable]:
    """``call(module, *tensors)`` with ``nn.<cls>(*args)`` of each library, same weights."""

    def build(lib):
        import torch

        torch.manual_seed(0)
        theirs = getattr(torch.nn, cls)(*args)
        if lib == "torch":
            mod = theirs
        else:
            import chainrule as cr

            mod = getattr(cr.nn, cls)(*args)
            state = {k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
            mod.load_state_dict(state)
        fn = lambda *xs: call(mod, *xs)  # noqa: E731
        fn.module = mod  # the runner clears its parameters' gradients before each repeat
        return fn

    return build


def layer_cases(scale: float, rng: np.random.Generator) -> list[Case]:
    """The layer ops at typical shapes; ``scale`` < 1 shrinks batch and width (the quick mode)."""

    def n(size: int) -> int:
        return max(2, round(size * scale))

    def normal(*shape):
        return rng.normal(size=shape).astype(np.float32)

    def img(batch=16, ch=64, hw=32):
        return normal(n(batch), n(ch), n(hw), n(hw))

    b, c, hw, t = n(16), n(64), n(32), n(128)
    c8 = 8 * n(8)  # group norm's channels: a multiple of its 8 groups
    classes, feats = n(256), n(1024)
    probs = rng.uniform(0.05, 0.95, (n(1000), n(1000))).astype(np.float32)
    logp = np.log(rng.dirichlet(np.ones(classes), n(4096))).astype(np.float32)
    labels = rng.integers(0, classes, n(4096))
    idx = rng.integers(0, n(10000), (n(64), t))
    F = _functional
    cases = [
        ("conv2d 3x3 pad 1", F(lambda F, x, w, bb: F.conv2d(x, w, bb, padding=1)),
         [img(), normal(c, c, 3, 3), normal(c)]),
        ("conv2d 3x3 stride 2", F(lambda F, x, w, bb: F.conv2d(x, w, bb, stride=2, padding=1)),
         [img(), normal(2 * c, c, 3, 3), normal(2 * c)]),
        ("conv2d 1 channel 5x5", F(lambda F, x, w, bb: F.conv2d(x, w, bb, padding=2)),
         [normal(n(64), 1, n(28), n(28)), normal(c // 2, 1, 5, 5), normal(c // 2)]),
        ("conv1d k3", F(lambda F, x, w: F.conv1d(x, w, padding=1)),
         [normal(b, c, feats), normal(c, c, 3)]),
        ("conv_transpose2d 4x4 stride 2",
         F(lambda F, x, w: F.conv_transpose2d(x, w, stride=2, padding=1)),
         [img(hw=16), normal(c, c // 2, 4, 4)]),
        ("max_pool2d 2x2", F(lambda F, x: F.max_pool2d(x, 2)), [img()]),
        ("max_pool2d 3x3 stride 2", F(lambda F, x: F.max_pool2d(x, 3, 2, 1)), [img()]),
        ("max_pool1d 2", F(lambda F, x: F.max_pool1d(x, 2)), [normal(b, c, feats)]),
        ("avg_pool2d 2x2", F(lambda F, x: F.avg_pool2d(x, 2)), [img()]),
        ("adaptive_avg_pool2d 1x1", F(lambda F, x: F.adaptive_avg_pool2d(x, 1)), [img()]),
        ("batch_norm train", F(lambda F, x, w, bb: F.batch_norm(x, None, None, w, bb, True)),
         [img(), normal(c), normal(c)]),
        ("layer_norm", F(lambda F, x, w, bb: F.layer_norm(x, (x.shape[-1],), w, bb)),
         [normal(n(32), t, n(256)), normal(n(256)), normal(n(256))]),
        ("group_norm 8 groups", F(lambda F, x, w, bb: F.group_norm(x, 8, w, bb)),
         [normal(b, c8, hw, hw), normal(c8), normal(c8)]),
        ("scaled_dot_product_attention",
         F(lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v)),
         [normal(n(8), 8, t, n(64)) for _ in range(3)]),
        ("scaled_dot_product_attention causal",
         F(lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
         [normal(n(8), 8, t, n(64)) for _ in range(3)]),
        ("MultiheadAttention self",
         _module("MultiheadAttention", (8 * n(32), 8, 0.0, True, False, False, None, None, True),
                 lambda m, x: m(x, x, x, need_weights=False)[0]),
         [normal(b, t, 8 * n(32))]),
        ("LSTMCell", _module("LSTMCell", (n(256), n(512)), _lstm_step),
         [normal(n(64), n(256)), normal(n(64), n(512)), normal(n(64), n(512))]),
        ("GRUCell", _module("GRUCell", (n(256), n(512)), lambda m, x, h: m(x, h)),
         [normal(n(64), n(256)), normal(n(64), n(512))]),
        ("RNNCell tanh", _module("RNNCell", (n(256), n(512)), lambda m, x, h: m(x, h)),
         [normal(n(64), n(256)), normal(n(64), n(512))]),
        ("LSTM 1 layer, 32 steps", _module("LSTM", (n(256), n(512), 1, True, True),
                                           lambda m, x: m(x)[0]),
         [normal(n(64), n(32), n(256))]),
        ("embedding", F(lambda F, i, w: F.embedding(i, w)), [idx, normal(n(10000), n(256))]),
        ("cross_entropy", F(lambda F, x, y: F.cross_entropy(x, y)),
         [normal(n(4096), classes), labels]),
        ("cross_entropy label_smoothing",
         F(lambda F, x, y: F.cross_entropy(x, y, label_smoothing=0.1)),
         [normal(n(4096), classes), labels]),
        ("nll_loss", F(lambda F, x, y: F.nll_loss(x, y)), [logp, labels]),
        ("mse_loss", F(lambda F, x, y: F.mse_loss(x, y)), [normal(n(1000), n(1000))] * 2),
        ("l1_loss", F(lambda F, x, y: F.l1_loss(x, y)),
         [normal(n(1000), n(1000)), normal(n(1000), n(1000))]),
        ("smooth_l1_loss", F(lambda F, x, y: F.smooth_l1_loss(x, y)),
         [normal(n(1000), n(1000)), normal(n(1000), n(1000))]),
        ("binary_cross_entropy", F(lambda F, p, y: F.binary_cross_entropy(p, y)),
         [probs, rng.uniform(0, 1, probs.shape).astype(np.float32)]),
        ("binary_cross_entropy_with_logits",
         F(lambda F, x, y: F.binary_cross_entropy_with_logits(x, y)),
         [normal(n(1000), n(1000)), rng.uniform(0, 1, probs.shape).astype(np.float32)]),
        ("kl_div batchmean", F(lambda F, x, y: F.kl_div(x, y, reduction="batchmean")),
         [logp, np.exp(logp[::-1].copy())]),
        ("leaky_relu", F(lambda F, x: F.leaky_relu(x, 0.1)), [normal(n(1000), n(1000))]),
        ("cosine_similarity", F(lambda F, a, bb: F.cosine_similarity(a, bb, dim=-1)),
         [normal(n(4096), n(256)), normal(n(4096), n(256))]),
        ("interpolate bilinear x2",
         F(lambda F, x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
         [img(hw=16)]),
        ("interpolate nearest x2", F(lambda F, x: F.interpolate(x, scale_factor=2)),
         [img(hw=16)]),
    ]  # fmt: skip
    return [Case(name, "layer", build, arrays) for name, build, arrays in cases]


def _lstm_step(m, x, h, c):
    h2, c2 = m(x, (h, c))
    return h2 + c2  # both outputs carry a gradient (the same add in both frameworks)


# What nn.functional holds that no case above times, with the reason (printed, not skipped).
NOT_TIMED = {
    "dropout": "random: the masks of the two frameworks differ",
    "dropout2d": "random: the masks of the two frameworks differ",
    "one_hot": "not differentiable (integer output)",
    "legacy_reduction": "a helper for the size_average/reduce arguments, not an op",
    "attention": "module name (scaled_dot_product_attention is timed)",
    "conv": "module name (conv1d/conv2d/conv_transpose2d are timed)",
}
