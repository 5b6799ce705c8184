"""Primitive ops on raw arrays, grouped by kind; see ``base.Op`` for the protocol."""

from chainrule.ops.base import Op
from chainrule.ops.einsum import Einsum
from chainrule.ops.elementwise import (
    Abs,
    Add,
    Cast,
    Clip,
    Clone,
    Cos,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Stepwise,
    Sub,
    Tanh,
    Where,
)
from chainrule.ops.fused import LogSoftmax, Softmax
from chainrule.ops.index import GetItem, IndexAdd, SetItem
from chainrule.ops.matmul import Linear, MatMul
from chainrule.ops.reduce import CumProd, CumSum, Max, Min, Prod, Sum
from chainrule.ops.shape import BroadcastTo, Cat, Reshape, Transpose

__all__ = [
    "Abs", "Add", "BroadcastTo", "Cast", "Cat", "Clip", "Clone", "Cos", "CumProd", "CumSum", "Div", "Einsum", "Exp", "GetItem", "IndexAdd",
    "SetItem",
    "Log", "LogSoftmax", "MatMul", "Max", "Maximum", "Min", "Minimum", "Mul", "Neg", "Op", "Pow", "Prod",
    "PowScalar", "Relu", "Reshape", "Sigmoid", "Sin", "Softmax", "Sqrt", "Stepwise", "Sub", "Sum", "Tanh",
    "Transpose", "Where",
]  # fmt: skip
