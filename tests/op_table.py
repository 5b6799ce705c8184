"""Every differentiable op, as a function of Tensors plus the input shapes and domains to test it on.

Shared by the gradcheck, JVP and property tests so that an op added here is checked every way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import chainrule as cr

SHAPES = [(), (4,), (1, 4), (3, 1), (3, 4), (2, 3, 4)]


@dataclass
class OpCase:
    name: str
    fn: object
    shapes: list  # one tuple of input shapes per case
    domain: str = "real"  # real | positive | nonzero | distinct
    ids: list = field(default_factory=list)
    # op(x, x) makes sense (two inputs of one shape); False where the inputs' shapes must differ
    # (the case's function then sends one input to several consumers itself, where it can)
    fan_out: bool = True


def _zero_first(x):
    """Ones with exact zeros at [..., 0]: a product through them meets a true zero."""
    mask = np.ones(x.shape)
    mask[..., 0] = 0.0
    return cr.tensor(mask)


def _first_and_last(x):
    """Indices 0 and n-1 along the last dimension, for every other position (gather's index)."""
    n = x.shape[-1]
    return np.broadcast_to(np.array([0, n - 1]), (*x.shape[:-1], 2)).copy()


def _unary(name, fn, domain="real", shapes=SHAPES):
    return OpCase(name, fn, [(s,) for s in shapes], domain)


def _binary(name, fn, domain="real"):
    pairs = [(a, b) for a in SHAPES for b in SHAPES]
    return OpCase(name, fn, pairs, domain)


ND = [s for s in SHAPES if len(s) >= 1]
MAT = [s for s in SHAPES if len(s) >= 2]

UNARY = [
    _unary("neg", lambda x: -x),
    _unary("exp", cr.exp),
    _unary("log", cr.log, "positive"),
    _unary("sqrt", cr.sqrt, "positive"),
    _unary("abs", cr.abs, "nonzero"),
    _unary("tanh", cr.tanh),
    _unary("sin", cr.sin),
    _unary("cos", lambda x: x.cos()),
    _unary("clone", lambda x: x.clone() * x),  # fan-out: the copy and the original both used
    _unary("expand_minus_one", lambda x: x.unsqueeze(0).expand(3, -1, *([-1] * (x.ndim - 1)))),
    _unary("sigmoid", cr.sigmoid),
    _unary("relu", cr.relu, "nonzero"),
    _unary("pow2", lambda x: x**2),
    _unary("pow3", lambda x: x**3),
    _unary("pow_half", lambda x: x**0.5, "positive"),
    _unary("pow_neg", lambda x: x**-1.5, "positive"),
    _unary("clip", lambda x: cr.clip(x, -0.5, 0.7), "nonzero"),
    _unary("clip_lo", lambda x: x.clip(min=0.1), "nonzero"),
    _unary("sum", lambda x: x.sum()),
    _unary("sum_axis0", lambda x: x.sum(axis=0), shapes=ND),
    _unary("sum_last_keep", lambda x: x.sum(axis=-1, keepdims=True), shapes=ND),
    _unary("sum_dim_alias", lambda x: x.sum(dim=(0, -1), keepdim=True), shapes=MAT),
    _unary("mean", lambda x: x.mean()),
    _unary("mean_axis", lambda x: cr.mean(x, axis=-1), shapes=ND),
    _unary("var", lambda x: x.var(axis=-1), shapes=[s for s in ND if s[-1] > 1]),
    _unary("max", lambda x: x.max(), "distinct"),
    _unary("max_axis", lambda x: x.max(axis=-1).values, "distinct", ND),
    _unary("min_axis_keep", lambda x: cr.min(x, dim=0, keepdim=True).values, "distinct", ND),
    _unary("amax_axis", lambda x: x.amax(-1), "distinct", ND),
    _unary("amin_axis_keep", lambda x: cr.amin(x, 0, True), "distinct", ND),
    _unary("softmax", lambda x: x.softmax(-1), shapes=ND),
    _unary("softmax0", lambda x: cr.softmax(x, axis=0), shapes=ND),
    _unary("log_softmax", lambda x: x.log_softmax(-1), shapes=ND),
    _unary("logsumexp", lambda x: cr.logsumexp(x, axis=-1), shapes=ND),
    _unary("reshape", lambda x: x.reshape(-1)),
    _unary("reshape_2d", lambda x: x.reshape(2, -1), shapes=[(3, 4), (2, 3, 4), (4,)]),
    _unary("transpose", lambda x: x.transpose()),
    _unary("transpose_axes", lambda x: x.transpose(1, 2, 0), shapes=[(2, 3, 4)]),
    _unary("T", lambda x: x.T, shapes=MAT),
    _unary("swapaxes", lambda x: x.swapaxes(0, -1), shapes=ND),
    _unary("squeeze", lambda x: x.squeeze()),
    _unary("unsqueeze", lambda x: x.unsqueeze(0)),
    _unary("unsqueeze_last", lambda x: cr.unsqueeze(x, -1)),
    _unary("flatten", lambda x: x.flatten()),
    _unary("flatten1", lambda x: x.flatten(1), shapes=MAT),
    _unary("broadcast_to", lambda x: x.broadcast_to(2, 3, 4)),
    _unary("getitem_int", lambda x: x[0], shapes=ND),
    _unary("getitem_slice", lambda x: x[..., 1:3], shapes=[(4,), (1, 4), (3, 4), (2, 3, 4)]),
    _unary("getitem_step", lambda x: x[::2], shapes=ND),
    _unary("getitem_newaxis", lambda x: x[None, ..., None]),
    _unary("getitem_array_repeat", lambda x: x[np.array([0, 0, -1])], shapes=ND),
    _unary(
        "getitem_2arrays",
        lambda x: x[np.array([0, 2, 0]), np.array([1, 1, 3])],
        shapes=[(3, 4), (3, 4, 2)],
    ),
    _unary("getitem_mask", lambda x: x[x.detach() > 0], shapes=ND),
    _unary("cat_self", lambda x: cr.cat([x, x * 2.0], axis=-1), shapes=ND),
    _unary("stack_self", lambda x: cr.stack([x, x.exp()], axis=0)),
    _unary("where_self", lambda x: cr.where(x.detach() > 0, x, x * x)),
    # Issue 14's activations: erf is a primitive, the rest compositions (F = cr.nn.functional).
    _unary("erf", lambda x: cr.nn.functional.erf(x)),
    _unary("gelu", lambda x: cr.nn.functional.gelu(x)),
    _unary("gelu_tanh", lambda x: cr.nn.functional.gelu(x, approximate="tanh")),
    _unary("silu", lambda x: cr.nn.functional.silu(x)),
    _unary("elu", lambda x: cr.nn.functional.elu(x), "nonzero"),
    _unary("softplus", lambda x: cr.nn.functional.softplus(x)),
    _unary("normalize", lambda x: cr.nn.functional.normalize(x, dim=-1), shapes=ND),
    _unary("cumsum", lambda x: x.cumsum(-1) * x, shapes=ND),  # fan-out through the running sum
    _unary("cumprod", lambda x: x.cumprod(-1), "nonzero", shapes=ND),
    _unary("cumprod_at_a_zero", lambda x: (x * _zero_first(x)).cumprod(-1), shapes=ND),
    _unary("prod", lambda x: x.prod(-1), "nonzero", shapes=ND),
    _unary("prod_all", lambda x: x.prod(), "nonzero"),
    _unary("prod_at_a_zero", lambda x: (x * _zero_first(x)).prod(-1, keepdim=True), shapes=ND),
    _unary("norm", lambda x: x.norm(dim=-1), "nonzero", shapes=ND),
    _unary("norm_p3", lambda x: x.norm(p=3), "nonzero"),
    _unary("repeat", lambda x: x.repeat(2, *([1] * x.ndim)) * 1.5),
    _unary("flip", lambda x: x.flip(-1) * x, shapes=ND),
    _unary("roll", lambda x: x.roll(1, -1) * x, shapes=ND),
    _unary("tril", lambda x: x.tril(), shapes=MAT),
    _unary("masked_fill", lambda x: x.masked_fill(x.detach() > 0.3, 2.0) * x),
    _unary("gather", lambda x: x.gather(-1, _first_and_last(x)), shapes=ND),
    _unary("index_select", lambda x: x.index_select(-1, [0, 0, x.shape[-1] - 1]), shapes=ND),
    _unary(
        "scatter_add",
        lambda x: x.scatter_add(-1, _first_and_last(x), x[..., :2] * 3),
        shapes=[s for s in ND if s[-1] >= 2],
    ),
    _unary(
        "split_chunks",
        lambda x: cr.cat([c * (i + 1) for i, c in enumerate(x.chunk(2, -1))], -1),
        shapes=ND,
    ),
    _unary("floor_plus_x", lambda x: x.floor() + x),
    _unary("tan", lambda x: (x * 0.5).tan()),
    _unary(
        "pad_constant",
        lambda x: (
            cr.nn.functional.pad(x, (2, 1, 0, 1) if x.ndim > 1 else (2, 1), value=0.5) * x.sum()
        ),
        shapes=ND,
    ),
    _unary("pad_crop", lambda x: cr.nn.functional.pad(x, (1, -1)), shapes=ND),
    _unary(
        "pad_reflect",
        lambda x: cr.nn.functional.pad(x, (2, 1), mode="reflect"),
        shapes=[s for s in ND if s[-1] > 2],
    ),
]

BINARY = [
    _binary("add", lambda a, b: a + b),
    _binary("sub", lambda a, b: a - b),
    _binary("mul", lambda a, b: a * b),
    _binary("remainder", lambda a, b: a % (b.abs() + 1.5)),  # smooth away from the jumps
    _binary("div", lambda a, b: a / b, "nonzero"),
    _binary("pow", lambda a, b: a**b, "positive"),
    _binary("maximum", cr.maximum, "distinct"),
    _binary("minimum", cr.minimum, "distinct"),
    _binary("where", lambda a, b: cr.where((a.detach() + b.detach()) > 0, a, b)),
]

MATMUL = OpCase(
    "matmul",
    lambda a, b: a @ b,
    [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4)),
     ((3,), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 2, 3), (3, 3, 2)), ((1, 2, 3), (2, 3, 2))],
)  # fmt: skip

DOT = OpCase("dot", cr.dot, [((1,), (1,)), ((4,), (4,))])

LINEAR = OpCase(
    "linear",
    lambda x, w, b: cr.nn.functional.linear(x, w, b),
    [
        ((2, 3), (4, 3), (4,)),
        ((1, 3), (2, 3), (2,)),
        ((3,), (2, 3), (2,)),
        ((2, 2, 3), (4, 3), (4,)),
    ],
)
LINEAR_NO_BIAS = OpCase(
    "linear_no_bias",
    lambda x, w: cr.nn.functional.linear(x, w),
    [((2, 3), (4, 3)), ((3, 2, 3), (1, 3))],
)

CAT = OpCase(
    "cat",
    lambda a, b: cr.cat([a, b], axis=0),
    [((2,), (3,)), ((1, 4), (3, 4)), ((2, 3, 4), (1, 3, 4))],
)
CAT_AXIS = OpCase(
    "cat_axis1",
    lambda a, b, c: cr.cat([a, b, c], axis=1),
    [((2, 1), (2, 3), (2, 2)), ((2, 1, 4), (2, 3, 4), (2, 2, 4))],
)
STACK = OpCase("stack", lambda a, b: cr.stack([a, b], axis=-1), [((3,), (3,)), ((2, 3), (2, 3))])


def _grid_sample(mode, padding, align):
    def fn(x, grid):
        return cr.nn.functional.grid_sample(x, grid, mode, padding, align)

    # The first pair has equal shapes so that the fan-out test can pass one tensor as both.
    shapes = [((2, 2, 3, 2), (2, 2, 3, 2)), ((1, 2, 4, 5), (1, 3, 2, 2))]
    return OpCase(f"grid_sample_{mode}_{padding}_{align}", fn, shapes)


# Bilinear sampling is smooth between pixel positions and nearest is constant between them;
# normal draws land on a kink (an integer coordinate, a rounding half, a border) with
# probability zero, so central differences hold.
SAMPLING = [
    _grid_sample(mode, padding, align)
    for mode in ("bilinear", "nearest")
    for padding in ("zeros", "border", "reflection")
    for align in (False, True)
] + [
    _unary(
        "affine_grid",
        lambda t: cr.nn.functional.affine_grid(t, (2, 1, 3, 4), align_corners=False),
        shapes=[(2, 2, 3)],
    ),
    _unary(
        "affine_grid_align",
        lambda t: cr.nn.functional.affine_grid(t, (2, 1, 1, 4), align_corners=True),
        shapes=[(2, 2, 3)],
    ),
]

ALL = [*UNARY, *BINARY, MATMUL, DOT, LINEAR, LINEAR_NO_BIAS, CAT, CAT_AXIS, STACK, *SAMPLING]

# The layer ops and their backward helpers live in op_table_layers.py (imported here, after
# OpCase, because they are built with it). TABLE is what the gradcheck, cotangent, JVP and
# fan-out tests run; ALL (the elementwise-to-sampling part) is also what benchmarks/bench_per_op.py
# rebinds to torch as written, which the layer cases (ops applied directly) do not allow: the
# benchmark times those layers as its own "layer" cases.
from op_table_layers import HELPERS, LAYERS  # noqa: E402

TABLE = [*ALL, *LAYERS, *HELPERS]


def draw(shape, domain: str, rng: np.random.Generator) -> np.ndarray:
    """Inputs away from the kinks and poles of the op, so that central differences are exact."""
    n = int(np.prod(shape)) if shape else 1
    if domain == "positive":
        x = rng.uniform(0.5, 2.0, n)
    elif domain == "nonzero":
        x = rng.choice([-1.0, 1.0], n) * rng.uniform(0.2, 1.5, n)
    elif domain == "distinct":
        # Spread values at least 0.1 apart so no max/min tie is near.
        x = rng.permutation(n) * 0.25 - n * 0.1 + rng.uniform(-0.05, 0.05, n)
    else:
        x = rng.normal(0.0, 1.0, n)
    return x.reshape(shape).astype(np.float64)


def cases():
    """(id, OpCase, input shapes) for pytest parametrisation."""
    out = []
    for op in TABLE:
        for shapes in op.shapes:
            sid = "-".join("x".join(map(str, s)) or "scalar" for s in shapes)
            out.append((f"{op.name}[{sid}]", op, shapes))
    return out
