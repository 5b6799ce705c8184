"""cr.onnx.export follows values computed beside the graph (comparisons, masks) as ONNX ops,
warns with a TracerWarning at the user's line where a value leaves for Python, and checks
dynamic_axes against the inputs and outputs."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")


class _Fn(nn.Module):
    """fn(self, *inputs) as a module with a Linear(6, 6) and an Embedding(10, 6) to use."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(6, 6)
        self.emb = nn.Embedding(10, 6)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _export(model, args, **kw) -> bytes:
    buf = io.BytesIO()
    cr.onnx.export(model, tuple(cr.from_numpy(a) for a in args), buf, **kw)
    return buf.getvalue()


def _run(model_bytes: bytes, args) -> np.ndarray:
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return sess.run(None, {f"input_{i}": a for i, a in enumerate(args)})[0]


def _eager(model, args) -> np.ndarray:
    with cr.no_grad():
        return model(*[cr.from_numpy(a) for a in args]).numpy()


RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 6)).astype(np.float32)
X_NEW = (RNG.normal(size=(2, 6)) * 2).astype(np.float32)  # other signs, other masks
TOKENS, TOKENS_NEW = np.array([[1, 2, 0], [3, 0, 0]]), np.array([[4, 0, 0], [5, 6, 7]])

MASKED = {
    "relu_by_mask": (lambda s, x: x * (x > 0), X, X_NEW),
    "mask_as_float": (lambda s, x: x * (x > 0.1).float() * 2 - (x < 0).float(), X, X_NEW),
    "masked_fill": (lambda s, x: x.masked_fill(x < -0.2, 5.0), X, X_NEW),
    "where": (lambda s, x: cr.where(x >= 0, x, x * 0.1), X, X_NEW),
    "where_on_a_layer": (lambda s, x: cr.where(s.lin(x) > 0, x, -x), X, X_NEW),
    "ne_eq_round": (lambda s, x: x * (x.round() != 0) + (x == x).float(), X, X_NEW),
    "and_not": (lambda s, x: x * ((x > 0) & (x < 1)) + x * ~(x > -0.5), X, X_NEW),
    "or": (lambda s, x: x * ((x > 1) | (x < -1)), X, X_NEW),
    "methods": (lambda s, x: x * x.ge(0) + x.le(0.5).float() + x.gt(1) * x.lt(2), X, X_NEW),
    "eq_ne_methods": (lambda s, x: x * x.round().eq(0) + x.round().ne(1).float(), X, X_NEW),
    "mask_count": (
        lambda s, x: x * (x > 0).sum() + (x > 0).float().sum(-1, keepdim=True),
        X,
        X_NEW,
    ),
    "against_a_reduction": (lambda s, x: x * (x > x.mean()), X, X_NEW),
    "any_all": (
        lambda s, x: x * (x > 1).any(-1, keepdim=True) + (x > -1).all(1, keepdim=True),
        X,
        X_NEW,
    ),
    "mask_as_output": (lambda s, x: x > 0, X, X_NEW),
    "logical": (
        lambda s, x: (
            x * cr.logical_and(x > 0, x.round())
            + x * cr.logical_or(x < -1, x > 1).float()
            + x * (x.round().logical_xor(x > 0))
            + cr.logical_not(x.round()).float()
        ),
        X,
        X_NEW,
    ),
}


@pytest.mark.parametrize("name", list(MASKED))
def test_masks_are_traced_as_ops_and_follow_new_inputs(name):
    fn, x, x_new = MASKED[name]
    model = _Fn(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is frozen: no warning at all
        data = _export(model, [x])
    want = _eager(model, [x_new])
    assert not np.array_equal(want, _eager(model, [x])), "the new input must change the result"
    np.testing.assert_allclose(_run(data, [x_new]), want, rtol=1e-5, atol=1e-5)


def test_padding_mask_of_integer_tokens_follows_new_tokens():
    """(tokens != pad) on an int64 input, as a transformer's padding mask is made."""
    model = _Fn(lambda s, t: s.emb(t) * (t != 0).unsqueeze(-1).float())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = _export(model, [TOKENS])
    np.testing.assert_allclose(_run(data, [TOKENS_NEW]), _eager(model, [TOKENS_NEW]), atol=1e-6)


def test_comparison_of_two_inputs_and_a_dynamic_batch():
    model = _Fn(lambda s, x, y: x * (x > y) + cr.where(y < 0, y, x))
    data = _export(model, [X, X_NEW], dynamic_axes={"input_0": [0], "input_1": [0]})
    a, b = RNG.normal(size=(2, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(_run(data, [a, b]), _eager(model, [a, b]), atol=1e-6)


ESCAPES = {
    "if": lambda s, x: x * 2 if x.sum() > 0 else x * 3,
    "item": lambda s, x: x + x.max().item(),
    "numpy": lambda s, x: x + float(x.numpy().mean()),
    "tolist": lambda s, x: x + x.tolist()[0][0],
    "float": lambda s, x: x + float(x.sum()),
    "int": lambda s, x: x + int(x.sum() * 10),
}
KINDS = {
    "if": "a Python boolean",
    "item": "a Python number",
    "numpy": "a NumPy array",
    "tolist": "a Python list",
    "float": "a Python float",
    "int": "a Python integer",
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_values_leaving_the_graph_warn_at_the_users_line(name):
    """The value is frozen (the exported model keeps the example's): a TracerWarning (a Warning,
    as torch.jit.TracerWarning) says so and points at the line of this file that did it."""
    model = _Fn(ESCAPES[name])
    x, x_new = X, -X  # the sum changes sign: a frozen `if` takes the wrong branch
    with pytest.warns(cr.onnx.TracerWarning) as got:
        data = _export(model, [x])
    assert issubclass(cr.onnx.TracerWarning, Warning)
    assert not issubclass(cr.onnx.TracerWarning, UserWarning)
    (w,) = got.list
    assert w.filename == __file__
    assert w.lineno == ESCAPES[name].__code__.co_firstlineno
    message = str(w.message)
    assert KINDS[name] in message and "frozen in the exported graph" in message
    assert f"{__file__}:{w.lineno}" in message
    # The warning is true: on the new input the file and the module disagree.
    assert not np.allclose(_run(data, [x_new]), _eager(model, [x_new]), atol=1e-3)


def test_dynamic_axes_beyond_an_inputs_rank_is_refused():
    """torch.onnx.export raises RuntimeError("Dynamic shape axis should be no more than the
    shape dimension for ...") for an input; chainrule's error is a RuntimeError and a
    ValueError, naming the entry."""
    model = _Fn(lambda s, x: x * 2)
    with pytest.raises(RuntimeError, match=r"dynamic_axes\['x'\] names axis 2.*2 dimensions"):
        _export(model, [X], input_names=["x"], dynamic_axes={"x": {0: "batch", 2: "oops"}})
    with pytest.raises(ValueError, match=r"names axis -3"):
        _export(model, [X], input_names=["x"], dynamic_axes={"x": [-3]})


def test_dynamic_axes_beyond_an_outputs_rank_is_refused():
    """torch ignores this one silently (the output keeps a fixed size); it is refused here."""
    model = _Fn(lambda s, x: x.sum(-1))
    with pytest.raises(cr.onnx.DynamicAxesError, match=r"dynamic_axes\['y'\] names axis 1"):
        _export(model, [X], output_names=["y"], dynamic_axes={"y": [1]})
    with pytest.raises(ValueError, match="must list axes as ints"):
        _export(model, [X], output_names=["y"], dynamic_axes={"y": ["0"]})


def test_dynamic_axes_unknown_name_is_refused_by_name():
    """torch only warns ("Provided key zz for dynamic axes is not a valid input/output name")
    and exports a model without that dynamic axis; a typo is refused here, by name."""
    model = _Fn(lambda s, x: x * 2)
    with pytest.raises(ValueError, match=r"\['zz'\].*\['x', 'y'\]"):
        _export(model, [X], input_names=["x"], output_names=["y"], dynamic_axes={"zz": [0]})


def test_negative_dynamic_axis_within_rank_is_symbolic():
    model = _Fn(lambda s, x: x * 2)
    data = _export(model, [X], input_names=["x"], output_names=["y"],
                   dynamic_axes={"x": {-2: "batch"}, "y": {0: "batch"}})  # fmt: skip
    dims = onnx.load_from_string(data).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 6]


@pytest.mark.parametrize(
    "layer",
    [
        lambda: nn.Conv2d(4, 8, 3, padding="same", dilation=2, groups=2),
        lambda: nn.Conv2d(4, 8, 3, padding=1, groups=4, padding_mode="reflect"),
        lambda: nn.Conv1d(4, 8, 4, padding="same"),
    ],
)
def test_padded_grouped_dilated_convolutions_export_with_a_dynamic_batch(layer):
    """Constant padding is one Pad node (a concatenated block of zeros would fix the batch)."""
    model = layer()
    shape = (1, 4, 9, 9) if isinstance(model, nn.Conv2d) else (1, 4, 9)
    x = RNG.normal(size=shape).astype(np.float32)
    data = _export(model, [x], dynamic_axes={"input_0": [0], "output_0": [0]})
    x3 = RNG.normal(size=(3, *shape[1:])).astype(np.float32)
    np.testing.assert_allclose(_run(data, [x3]), _eager(model, [x3]), rtol=1e-5, atol=1e-5)


def test_an_index_computed_from_the_inputs_is_said_to_be_frozen():
    """Indexing by an argmax: the export keeps the example's index, and says so."""
    model = _Fn(lambda s, x: x[x.argmax(0)])
    with pytest.warns(UserWarning, match=r"getitem \(its index\)"):
        _export(model, [X])
