"""Forward mode: push tangents through a function alongside its values (JVP)."""

from __future__ import annotations

from chainrule.autograd.grad_mode import state
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp


def jvp(fn, primals, tangents):
    """Evaluates ``fn(*primals)`` and its directional derivative along ``tangents``.

    Args:
        fn: a function of Tensors returning a Tensor or a tuple of Tensors.
        primals: a Tensor or a tuple of Tensors, the point x.
        tangents: the direction v, matching ``primals`` in structure and shapes.

    Returns:
        ``(outputs, output_tangents)``: f(x) and J_f(x) v, each shaped like fn's result.
    """
    single = isinstance(primals, Tensor)
    primals = (primals,) if single else tuple(primals)
    tangents = (tangents,) if isinstance(tangents, Tensor) else tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    inputs = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        p = p if isinstance(p, Tensor) else Tensor(p)
        tv = xp.asarray(t._data if isinstance(t, Tensor) else t)
        if tv.shape != p.shape:
            raise ValueError(f"jvp: tangent {i} has shape {tv.shape}, primal {i} has {p.shape}")
        x = constant(p._data)
        x._tangent = tv.astype(p.dtype, copy=False)
        inputs.append(x)
    state.forward_level += 1
    try:
        out = fn(*inputs)
    finally:
        state.forward_level -= 1
    if isinstance(out, Tensor):
        return _split(out)
    pairs = [_split(o) for o in out]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _split(out: Tensor) -> tuple[Tensor, Tensor]:
    tan = out._tangent if out._tangent is not None else xp.zeros_like(out._data)
    value = constant(out._data)
    return value, constant(xp.asarray(tan))
