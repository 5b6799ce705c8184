"""ONNX translations of the fused activation ops (GELU, LeakyReLU, ELU, SiLU, Softplus).

Each writer has the signature of those in ``symbolic.py``: graph builder, the op, its input
names, input arrays, the result array and the output name; ``ACTIVATIONS`` maps op class to
writer and is merged into ``symbolic.TRANSLATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule.backend import xp
from chainrule.onnx.graph import GraphBuilder
from chainrule.ops.activation import Elu, LeakyRelu, Silu, Softplus
from chainrule.ops.special import Gelu


def _gelu(g: GraphBuilder, op, ins, xs, y, out):
    # ONNX has Gelu only from opset 20: x (1 + erf(x / √2)) / 2, as chainrule's op computes it.
    x = g.cast(ins[0], xs[0].dtype, y.dtype)
    z = g.node("Erf", [g.node("Mul", [x, g.const(1 / xp.sqrt(2.0), y.dtype, "inv_sqrt2")])])
    cdf = g.node("Mul", [g.node("Add", [z, g.const(1.0, y.dtype, "one")]), g.const(0.5, y.dtype)])
    g.node("Mul", [x, cdf], out)


def _leaky_relu(g: GraphBuilder, op, ins, xs, y, out):
    g.node("LeakyRelu", [g.cast(ins[0], xs[0].dtype, y.dtype)], out, alpha=float(op.s))


def _elu(g: GraphBuilder, op, ins, xs, y, out):
    g.node("Elu", [g.cast(ins[0], xs[0].dtype, y.dtype)], out, alpha=float(op.alpha))


def _silu(g: GraphBuilder, op, ins, xs, y, out):
    x = g.cast(ins[0], xs[0].dtype, y.dtype)
    g.node("Mul", [x, g.node("Sigmoid", [x])], out)


def _softplus(g: GraphBuilder, op, ins, xs, y, out):
    # ONNX Softplus has no beta and no threshold: x where βx > threshold, else Softplus(βx) / β.
    x = g.cast(ins[0], xs[0].dtype, y.dtype)
    bx = g.node("Mul", [x, g.const(op.beta, y.dtype, "beta")])
    soft = g.node("Div", [g.node("Softplus", [bx]), g.const(op.beta, y.dtype, "beta")])
    big = g.node("Greater", [bx, g.const(op.threshold, y.dtype, "threshold")])
    g.node("Where", [big, x, soft], out)


ACTIVATIONS: dict[type, Callable] = {
    Gelu: _gelu,
    LeakyRelu: _leaky_relu,
    Elu: _elu,
    Silu: _silu,
    Softplus: _softplus,
}
