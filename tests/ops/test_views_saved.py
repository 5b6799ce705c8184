"""Each op's VJP reads only the values it declares saved (``Op.saves``/``Op.saved``): the
basis of the per-saved-value version checks of in-place writes (moved here from
test_views_inplace_torch.py, unchanged)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

RNG = np.random.default_rng(27)
X, W = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))  # as in the file it came from


# ----- what each op declares it saves is all its VJP reads -----
def _vjp_reads_only_what_it_saves(out: cr.Tensor) -> int:
    """For every node behind ``out`` that declares what it saves: its VJP gives the same
    gradients when every value it does not declare is replaced by NaN. Returns how many nodes
    were checked."""
    from chainrule.autograd.engine import toposort
    from chainrule.backend import ArrayMath

    checked = 0
    for t in toposort([out]):
        node = t._node
        if node is None or (type(node).saves is None and "saved" not in vars(type(node))):
            continue
        needs = tuple(i.requires_grad for i in node.inputs)
        keep = set(node.saved(needs))
        arrays = [i._data for i in node.inputs] + [t._data]
        blank = [
            a if k in keep or (k == len(arrays) - 1 and "y" in keep) or a.dtype.kind != "f"
            else np.full_like(a, np.nan)
            for k, a in enumerate(arrays)
        ]  # fmt: skip
        g = RNG.standard_normal(t.shape)
        with np.errstate(all="ignore"):
            want = node.vjp(ArrayMath, g, *arrays)
            got = node.vjp(ArrayMath, g, *blank)
        for w, gg, n in zip(want, got, needs):
            if n and w is not None:
                np.testing.assert_array_equal(np.asarray(gg), np.asarray(w), err_msg=node.name)
        checked += 1
    return checked


def _op_table_cases():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/, where op_table.py is
    from op_table import cases

    return cases()


@pytest.mark.parametrize("first_only", [False, True], ids=["all_inputs", "first_input"])
def test_every_tabled_op_reads_only_what_it_declares_saved(first_only):
    rng = np.random.default_rng(5)
    checked = 0
    for _, op, shapes in _op_table_cases():
        arrays = [np.abs(rng.standard_normal(s)) + 0.5 for s in shapes]
        xs = [cr.tensor(a, requires_grad=not (first_only and k)) for k, a in enumerate(arrays)]
        checked += _vjp_reads_only_what_it_saves(op.fn(*xs))
    assert checked > 100


LAYERS = {
    "conv2d": lambda x, w: F.conv2d(x, w.reshape(1, 2, 2, 3), cr.ones(1), padding=1),
    "batch_norm": lambda x, w: F.batch_norm(x, None, None, w[0, :2], w[1, :2], training=True),
    "max_pool2d": lambda x, w: F.max_pool2d(x, 2) * w[0, 0],
    "avg_pool2d": lambda x, w: F.avg_pool2d(x, 2) * w[0, 0],
    "softmax": lambda x, w: F.softmax(x * w[0, 0], dim=1),
    "log_softmax": lambda x, w: F.log_softmax(x * w[0, 0], dim=-1),
    "relu_where_clamp": lambda x, w: F.relu(x).clamp(0.1, 0.9) * F.leaky_relu(x - w[0, 1]),
    "index_and_assign": lambda x, w: (lambda y: (y.__setitem__((0, 1), w[:3, 0:1]), y)[1])(x * 1),
    "copy_slices": lambda x, w: (lambda y: (y[:, 1].mul_(w[0, 0]), y.sigmoid())[1])(x * 1),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_ops_read_only_what_they_declare_saved(name):
    x = cr.tensor(RNG.standard_normal((2, 2, 3, 4)), requires_grad=True)
    w = cr.tensor(W, requires_grad=True)
    assert _vjp_reads_only_what_it_saves(LAYERS[name](x, w)) >= 1
