"""cr.onnx.export: exported models run in onnxruntime and agree with chainrule's forward."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.functional import activation as F_act
from chainrule.functional import pooling as F_pool
from chainrule.functional import vector as F_vec
from chainrule.models.captioner import Captioner
from chainrule.models.cnn import CNN
from chainrule.models.mlp import MLP

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")

TOL = 1e-5  # float32 throughout


def _session(model_bytes: bytes):
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def _export_bytes(model, args, **kwargs) -> bytes:
    buf = io.BytesIO()
    cr.onnx.export(model, args, buf, **kwargs)
    return buf.getvalue()


def _randomize(model: nn.Module, rng: np.random.Generator) -> None:
    """Non-default weights and batch-norm statistics, so a wrong translation cannot hide behind
    zeros, ones and a unit variance."""
    for name, p in model.named_parameters():
        if p.ndim == 1:  # biases and batch-norm scales; weight matrices keep their random init
            scale = rng.uniform(0.5, 1.5, p.shape) if name.endswith("weight") else 0.0
            p._data[...] = scale + rng.normal(0, 0.2, p.shape)
    for name, b in model.named_buffers():
        if name.endswith("running_mean"):
            b._data[...] = rng.normal(0, 0.5, b.shape)
        elif name.endswith("running_var"):
            b._data[...] = rng.uniform(0.5, 2.0, b.shape)


def _forward(model: nn.Module, *arrays: np.ndarray) -> list[np.ndarray]:
    with cr.no_grad():
        out = model(*[cr.from_numpy(a) for a in arrays])
    out = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in out if o is not None]


@pytest.mark.parametrize(
    "make, shape",
    [(lambda: MLP(dropout=0.2), (4, 784)), (lambda: CNN(1, (28, 28), 10), (2, 1, 28, 28))],
    ids=["mlp", "cnn"],
)
def test_zoo_model_matches_onnxruntime_on_other_batch_sizes(tmp_path, make, shape):
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    model = make()
    _randomize(model, rng)
    model.train()  # export must switch dropout off itself, and give the mode back
    path = tmp_path / "model.onnx"
    x = cr.from_numpy(rng.normal(size=shape).astype(np.float32))
    cr.onnx.export(
        model,
        (x,),
        path,
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
    )
    assert model.training
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left behind
    proto = onnx.load(str(path))
    # Parameters are initializers under their state-dict names.
    stored = {i.name for i in proto.graph.initializer}
    assert {name for name, _ in model.named_parameters()} <= stored
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"

    session = _session(path.read_bytes())
    model.eval()
    for n in (shape[0], 7):
        xs = rng.normal(size=(n, *shape[1:])).astype(np.float32)
        (want,) = _forward(model, xs)
        (got,) = session.run(None, {"x": xs})
        assert got.shape == want.shape == (n, 10)
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


class _DecoderStep(nn.Module):
    """One decoding step of a captioner as a Module: tokens (N,), the state and the features in,
    logits (N, V), the new state (and alpha (N, L) with attention) out."""

    def __init__(self, captioner: Captioner) -> None:
        super().__init__()
        self.captioner = captioner

    def forward(self, tokens, h, c, features, projected=None):
        state = (h, c, projected) if self.captioner.attention else (h, c)
        logits, (h, c, *_), alpha = self.captioner.step(tokens, state, features)
        return logits, h, c, alpha


@pytest.mark.parametrize("attention", [True, False], ids=["attention", "show-tell"])
def test_captioner_encoder_and_decoder_step_match_onnxruntime(attention):
    rng = np.random.default_rng(1)
    cap = Captioner(
        vocab_size=46,
        attention=attention,
        channels=(8, 8, 16),
        embed_dim=16,
        hidden_dim=32,
        attention_dim=24,
    )
    _randomize(cap, rng)
    cap.eval()
    images = rng.normal(size=(3, 1, 64, 64)).astype(np.float32)
    encoder = _session(_export_bytes(cap.encoder, (cr.from_numpy(images),)))
    (features,) = _forward(cap.encoder, images)
    np.testing.assert_allclose(encoder.run(None, {"input_0": images})[0], features, atol=TOL)

    with cr.no_grad():
        state = cap.init_state(cr.from_numpy(features))
    arrays = [s.numpy() for s in state]  # h, c (and the projected features)
    names = ["tokens", "h", "c", "features"] + (["projected"] if attention else [])
    step = _DecoderStep(cap)
    step.eval()
    example = [np.array([1, 2, 3]), arrays[0], arrays[1], features, *arrays[2:]]
    session = _session(
        _export_bytes(step, tuple(cr.from_numpy(a) for a in example), input_names=names)
    )
    # Other tokens than the example's: the embedding must read the tokens input, not a constant.
    feed = dict(zip(names, [np.array([7, 0, 45]), *example[1:]], strict=True))
    want = _forward(step, *feed.values())
    got = session.run(None, feed)
    assert len(got) == len(want) == (4 if attention else 3)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=0, atol=TOL)


class _Fn(nn.Module):
    def __init__(self, fn, in_features: int = 6) -> None:
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(in_features, in_features)

    def forward(self, x):
        return self.fn(self.lin(x))


# One line per translation: each runs on x (2, 3, 6) after a Linear over the last axis.
FUNCTIONS = {
    "add_sub_mul_div": lambda x: (x + 1.5) * x - x / 3.0,
    "pow_neg_abs": lambda x: -(x.abs() ** 1.5) + x**2,
    "exp_log_sqrt": lambda x: (x.exp() + 1).log() + (x * x + 1).sqrt(),
    "tanh_sigmoid_relu": lambda x: x.tanh() + x.sigmoid() * x.relu(),
    "clamp_max_min": lambda x: cr.clamp(x, -0.3, 0.4) + cr.maximum(x, x * 0.5) - cr.minimum(x, 0.1),
    "erf_gelu": lambda x: F_act.gelu(x),
    "flip_roll_tril": lambda x: x.flip(-1, 0) + x.roll((2, -1), (2, 1)) * x.tril(1) - x.triu(),
    "pad_modes": lambda x: (
        F_vec.pad(x, (2, 1), mode="reflect")[..., 1:-2]
        * F_vec.pad(x, (1, 2), mode="replicate")[..., 2:-1]
        + F_vec.pad(x, (3, 2), mode="circular")[..., :6]
    ),
    "fused_activations": lambda x: (
        F_act.leaky_relu(x, 0.2) + F_act.elu(x, 0.7) * F_act.silu(x) - F_act.softplus(x, 2.0, 1.0)
    ),
    "softmax": lambda x: x.softmax(-1) + cr.log_softmax(x, 1),
    "reductions": lambda x: x.sum(1, keepdim=True) + cr.amax(x, 2, keepdim=True) - x.mean(),
    "amin_prod": lambda x: cr.amin(x, (0, 2)) + x.prod(2).sum(1, keepdim=True),
    "cumsum": lambda x: x.cumsum(1),
    "reshape_transpose": lambda x: x.reshape(2, 9, 2).permute(2, 0, 1) * 1.0,
    "cat_stack": lambda x: cr.cat([x, x * 2], 1) + cr.stack([x, x], 0).sum(0).repeat(1, 2, 1),
    "getitem": lambda x: x[:, 1:, ::2] + x[1, None, -2:, 4:1:-1] + x[..., 1:, 0:1],
    "getitem_array": lambda x: x[:, [2, 0, 2]],
    "matmul_bmm": lambda x: x @ x.transpose(1, 2) + cr.matmul(x[0], x[1].T),
    "broadcast": lambda x: cr.broadcast_to(x[:, :1], (2, 3, 6)) * x,
    "where": lambda x: cr.where(cr.tensor(np.arange(36).reshape(2, 3, 6) % 2 == 0), x, -x),
    "avg_pool": lambda x: F_pool.avg_pool2d(x.reshape(1, 2, 3, 6), 2, stride=1, padding=1),
    "floor_sign": lambda x: x.floor() + x.sign() + x.ceil(),
}


@pytest.mark.parametrize("fn", FUNCTIONS.values(), ids=FUNCTIONS.keys())
def test_each_translation_matches_chainrule(fn):
    rng = np.random.default_rng(2)
    model = _Fn(fn)
    x = rng.normal(size=(2, 3, 6)).astype(np.float32)
    with pytest.warns(UserWarning) if fn is FUNCTIONS["where"] else _no_warning():
        session = _session(_export_bytes(model, (cr.from_numpy(x),)))
    (want,) = _forward(model.eval(), x)
    (got,) = session.run(None, {"input_0": x})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=TOL)


@contextlib.contextmanager
def _no_warning():
    """Fails on any warning: only exports that bake in a computed value may warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_unsupported_op_is_named_and_nothing_is_written(tmp_path):
    model = _Fn(lambda x: x.cumprod(1))
    path = tmp_path / "never.onnx"
    with pytest.raises(cr.onnx.UnsupportedOperatorError) as info:
        cr.onnx.export(model, (cr.randn(2, 3, 6),), path)
    assert str(info.value) == "ONNX export: op 'cumprod' (ops.CumProd) has no ONNX form yet"
    assert os.listdir(tmp_path) == []


def test_export_without_onnx_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match="pip install onnx"):
        cr.onnx.export(_Fn(lambda x: x), (cr.randn(2, 6),), io.BytesIO())


def test_bad_arguments_are_refused():
    model, x = _Fn(lambda x: x), (cr.randn(2, 6),)
    with pytest.raises(ValueError, match="dynamic_axes"):
        cr.onnx.export(model, x, io.BytesIO(), dynamic_axes={"nope": [0]})
    with pytest.raises(ValueError, match="opset_version"):
        cr.onnx.export(model, x, io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="used twice"):
        cr.onnx.export(model, x, io.BytesIO(), input_names=["lin.weight"])


def test_parameters_get_their_requires_grad_back_and_frozen_ones_still_export():
    model = _Fn(lambda x: x.relu())
    model.lin.weight.requires_grad_(False)
    x = np.ones((2, 6), np.float32)
    session = _session(_export_bytes(model, (cr.from_numpy(x),), opset_version=18))
    assert model.lin.weight.requires_grad is False
    np.testing.assert_allclose(session.run(None, {"input_0": x})[0], _forward(model, x)[0])
