"""PyTorch's legacy constructors (``torch.Tensor(...)``, ``torch.LongTensor(...)``) compared with
the installed torch: the class's dtype whatever the data's, integers as sizes, its refusals."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

LEGACY = ["Tensor", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
          "ByteTensor"]  # fmt: skip

ARGS = [
    ([0],),
    ([True, False],),
    ([1.7, -1.7, 0.5],),
    ([[1, 2], [3, 4]],),
    ((2, 3),),
    (range(3),),
    ([],),
    (2, 3),
    (0,),
    (4,),
    (),
    (np.int64(3),),
    (np.arange(3),),
    (np.arange(3.0),),
    (np.array([1.5, -2.5], dtype=np.float32),),
    (np.array([True, False]),),
    ([-1],),
    ([0.1],),
]


def _same(got, want) -> None:
    assert isinstance(got, cr.Tensor)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (got.dtype, want.dtype)
    assert tuple(got.shape) == tuple(want.shape)


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", ARGS, ids=repr)
def test_legacy_constructor_dtype_shape_and_values_as_torch(name, args):
    try:
        want = getattr(torch, name)(*args)
    except (RuntimeError, TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            getattr(cr, name)(*args)
        return
    got = getattr(cr, name)(*args)
    _same(got, want)
    if args and not isinstance(args[0], int | np.integer):  # sizes: uninitialised in torch
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_tensor_of_ints_is_float32_and_adds_a_float_loss():
    loss = cr.Tensor([0])
    assert loss.dtype == np.float32 and loss.shape == (1,)
    loss += cr.tensor(1.5)
    assert loss.tolist() == [1.5]
    assert cr.Tensor(2, 3).shape == (2, 3) and cr.Tensor(2, 3).dtype == np.float32
    assert cr.Tensor().shape == (0,)
    assert cr.LongTensor([1.7]).tolist() == [1]


def test_legacy_constructor_follows_the_default_dtype():
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.Tensor([1]).dtype == np.float64
        assert cr.FloatTensor([1]).dtype == np.float32
    finally:
        cr.set_default_dtype(cr.float32)


def test_tensor_of_a_float32_array_shares_it_as_torch():
    a = np.zeros(3, dtype=np.float32)
    t, w = cr.Tensor(a), torch.Tensor(a.copy())
    a[0] = 9.0
    assert t.tolist() == [9.0, 0.0, 0.0]
    assert w.tolist() == [0.0, 0.0, 0.0]  # (w was made from a copy; torch shares the same way)


def test_tensor_of_a_tensor_is_a_new_view_in_the_graph():
    w = cr.ones(2, requires_grad=True)
    a = cr.Tensor(w)
    assert a is not w and a.grad_fn is not None
    a.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]
    i = cr.tensor([1, 2])
    assert cr.Tensor(i).dtype == np.int64  # torch.Tensor(int tensor) keeps the int64 dtype
    assert torch.Tensor(torch.tensor([1, 2])).dtype == torch.int64
    assert cr.LongTensor(i).tolist() == [1, 2]


def test_isinstance_against_tensor_and_typed_classes():
    assert isinstance(cr.Tensor([1]), cr.Tensor)
    assert isinstance(cr.tensor([1]), cr.Tensor)
    assert isinstance(cr.nn.Parameter(cr.zeros(2)), cr.Tensor)
    assert isinstance(cr.tensor([1]), cr.LongTensor)
    assert not isinstance(cr.tensor([1.0]), cr.LongTensor)
    assert isinstance(torch.tensor([1]), torch.LongTensor)


def test_cr_tensor_still_infers_the_dtype():
    assert cr.tensor([0]).dtype == np.int64
    assert cr.tensor([True]).dtype == np.bool_
    assert cr.tensor(np.arange(3.0)).dtype == np.float64
    assert cr.tensor(2.5).shape == ()


def _refusal(fn):
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


@pytest.mark.parametrize(
    "name, args, kwargs, words",
    [
        ("Tensor", (3.5,), {}, "data must be a sequence (got float)"),
        ("Tensor", (None,), {}, "data must be a sequence (got NoneType)"),
        ("Tensor", ("a",), {}, "invalid data type 'str'"),
        ("Tensor", (2, -1), {}, "Trying to create tensor with negative dimension -1: [2, -1]"),
        ("Tensor", (2, 3.0), {}, ""),
        ("Tensor", ([1],), {"dtype": torch.float64}, ""),
        ("Tensor", ([1],), {"requires_grad": True}, ""),
        ("ByteTensor", ([300],), {}, "value cannot be converted to type uint8 without overflow"),
        ("ByteTensor", ([-256],), {}, "value cannot be converted to type uint8 without overflow"),
        ("IntTensor", ([2**31],), {}, "value cannot be converted to type int32 without overflow"),
    ],
)
def test_legacy_refusals_as_torch(name, args, kwargs, words):
    kind, message = _refusal(lambda: getattr(torch, name)(*args, **kwargs))
    cr_kwargs = {k: (cr.float64 if k == "dtype" else v) for k, v in kwargs.items()}
    with pytest.raises(kind) as info:
        getattr(cr, name)(*args, **cr_kwargs)
    assert words in message and words in str(info.value)


def test_byte_tensor_wraps_small_negatives_as_torch():
    assert cr.ByteTensor([-1, -255]).tolist() == torch.ByteTensor([-1, -255]).tolist()
    assert cr.ByteTensor([-1]).dtype == np.uint8


def test_float_tensor_of_an_int_tensor_is_refused_as_torch():
    kind, _ = _refusal(lambda: torch.FloatTensor(torch.tensor([1, 2])))
    with pytest.raises(kind, match="FloatTensor"):
        cr.FloatTensor(cr.tensor([1, 2]))


def test_tensor_of_a_tensor_with_device_is_refused_as_torch():
    kind, words = _refusal(lambda: torch.Tensor(torch.ones(2), device="cpu"))
    with pytest.raises(kind) as info:
        cr.Tensor(cr.ones(2), device="cpu")
    assert str(info.value).replace("chainrule", "torch") == words


def test_device_keyword_is_accepted():
    assert cr.Tensor(2, device="cpu").shape == (2,)
    assert cr.Tensor([1, 2], device="cpu").tolist() == [1.0, 2.0]


# ----- module reprs, compared with torch.nn's -----
def _seq(nn):
    inner = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(True))
    return nn.Sequential(inner, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2))


def _containers(nn):
    return nn.Sequential(
        nn.ModuleList([nn.Linear(2, 3), nn.Tanh()]),
        nn.ModuleDict({"act": nn.LeakyReLU(0.2, inplace=True), "drop": nn.Dropout(0.5)}),
    )


def _params(nn):
    ps = nn.ParameterList()
    ps.append(nn.Parameter(cr.zeros(2, 3) if nn is cr.nn else torch.zeros(2, 3)))
    return ps


def _encoder(nn):
    return nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16), 2, enable_nested_tensor=False
    )


def _decoder(nn):
    return nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 1)


def _module(nn):
    m = nn.Module()
    m.fc = nn.Linear(2, 2)
    return m


BUILDERS = {
    "Sequential": _seq, "ModuleList": _containers, "ModuleDict": _containers,
    "ParameterList": _params, "TransformerEncoder": _encoder, "TransformerDecoder": _decoder,
    "Module": _module,
    "Transformer": lambda nn: nn.Transformer(8, 2, 1, 1, 16),
    "DataParallel": lambda nn: nn.DataParallel(nn.Sequential(nn.Linear(2, 3), nn.ReLU())),
}  # fmt: skip

CASES = [
    ("AdaptiveAvgPool2d", (1,), {}), ("AdaptiveAvgPool2d", ((5, 7),), {}),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", (3,), {"stride": 2, "padding": 1}),
    ("BCELoss", (), {}), ("BCEWithLogitsLoss", (), {}),
    ("BatchNorm1d", (8,), {}), ("BatchNorm2d", (64,), {}),
    ("BatchNorm2d", (3,), {"eps": 1e-3, "momentum": 0.2, "affine": False}),
    ("BatchNorm2d", (3,), {"track_running_stats": False}),
    ("Conv1d", (3, 8, 5), {}), ("Conv1d", (3, 8, 3), {"stride": 2, "padding": 1, "bias": False}),
    ("Conv2d", (3, 64, 3), {}), ("Conv2d", (3, 64, 4), {"stride": 2, "padding": 1, "bias": False}),
    ("Conv2d", (4, 8, (3, 5)), {"dilation": 2, "groups": 2}),
    ("Conv2d", (4, 8, 3), {"padding": "same"}),
    ("Conv2d", (4, 8, 3), {"padding": 1, "padding_mode": "reflect"}),
    ("ConvTranspose2d", (100, 512, 4), {"stride": 1, "padding": 0, "bias": False}),
    ("ConvTranspose2d", (8, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ("CrossEntropyLoss", (), {}), ("CrossEntropyLoss", (), {"ignore_index": 0, "label_smoothing": 0.1}),
    ("Dropout", (), {}), ("Dropout", (0.2,), {"inplace": True}), ("Dropout2d", (0.3,), {}),
    ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}),
    ("Embedding", (10, 3), {}), ("Embedding", (10, 3), {"padding_idx": 0}),
    ("Embedding", (10, 3), {"max_norm": 1.0}),
    ("Flatten", (), {}), ("Flatten", (0, 2), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}),
    ("GRU", (10, 20), {}), ("GRU", (10, 20, 2), {"batch_first": True, "dropout": 0.1}),
    ("GRUCell", (10, 20), {}), ("GRUCell", (10, 20), {"bias": False}),
    ("GroupNorm", (2, 4), {}), ("GroupNorm", (2, 4), {"affine": False, "eps": 1e-3}),
    ("Identity", (), {}),
    ("KLDivLoss", (), {}), ("KLDivLoss", (), {"reduction": "batchmean"}),
    ("L1Loss", (), {}), ("L1Loss", (), {"reduction": "sum"}),
    ("LSTM", (10, 20), {}), ("LSTM", (10, 20, 2), {"batch_first": True, "bidirectional": True}),
    ("LSTM", (10, 20), {"num_layers": 3, "dropout": 0.5, "bias": False}),
    ("LSTMCell", (10, 20), {}),
    ("LayerNorm", (3,), {}), ("LayerNorm", ((3, 4),), {"eps": 1e-6, "elementwise_affine": False}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {"inplace": True}),
    ("Linear", (4, 8), {}), ("Linear", (4, 8), {"bias": False}),
    ("LogSoftmax", (), {"dim": 1}), ("LogSoftmax", (), {}),
    ("MSELoss", (), {}), ("MaxPool1d", (2,), {}), ("MaxPool1d", (3, 2, 1), {}),
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (2, 2), {}), ("MaxPool2d", (3, 2, 1), {}),
    ("MultiheadAttention", (16, 4), {}),
    ("MultiheadAttention", (16, 4), {"batch_first": True, "bias": False}),
    ("NLLLoss", (), {}),
    ("RNN", (10, 20), {}), ("RNN", (10, 20), {"nonlinearity": "relu", "num_layers": 2}),
    ("RNNCell", (10, 20), {}), ("RNNCell", (10, 20), {"nonlinearity": "relu"}),
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("ReLU", (), {"inplace": True}),
    ("SiLU", (), {}), ("SiLU", (), {"inplace": True}), ("Sigmoid", (), {}),
    ("SmoothL1Loss", (), {}), ("SmoothL1Loss", (), {"beta": 0.5}),
    ("Softmax", (), {"dim": -1}), ("Softmax", (), {}),
    ("Softplus", (), {}), ("Softplus", (), {"beta": 2.0, "threshold": 10.0}),
    ("Tanh", (), {}),
    ("TransformerEncoderLayer", (16, 4), {"dim_feedforward": 32}),
    ("TransformerDecoderLayer", (16, 4), {"dim_feedforward": 32, "batch_first": True}),
    ("Unflatten", (1, (2, 3)), {}),
    ("Upsample", (), {"scale_factor": 2}), ("Upsample", (), {"scale_factor": 2.0, "mode": "bilinear"}),
    ("Upsample", (), {"size": (4, 4), "mode": "nearest"}),
    ("Upsample", (), {"scale_factor": (2, 3), "mode": "bilinear", "align_corners": True}),
]  # fmt: skip


def _module_classes() -> list[str]:
    """cr.nn's Module classes that torch.nn also has (the public ones)."""
    return sorted(
        n
        for n in dir(cr.nn)
        if not n.startswith("_")
        and isinstance(getattr(cr.nn, n), type)
        and issubclass(getattr(cr.nn, n), cr.nn.Module)
        and hasattr(torch.nn, n)
    )


def test_every_module_class_has_a_repr_case():
    covered = {name for name, _, _ in CASES} | set(BUILDERS)
    assert set(_module_classes()) <= covered, set(_module_classes()) - covered


@pytest.mark.parametrize("name, args, kwargs", CASES, ids=lambda v: repr(v)[:40])
def test_module_repr_as_torch(name, args, kwargs):
    want = repr(getattr(torch.nn, name)(*args, **kwargs))
    assert repr(getattr(cr.nn, name)(*args, **kwargs)) == want


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_container_repr_as_torch(name):
    want = repr(BUILDERS[name](torch.nn))
    # chainrule spells dtypes as NumPy does (float32), where torch prints torch.float32
    assert repr(BUILDERS[name](cr.nn)) == want.replace("torch.float32", "float32")


# ----- tensor printing, compared with torch's -----
_rng = np.random.default_rng(0)
PRINTED = [
    np.float32(3.8287), np.array(5), np.array(2.5), np.array([1.0, 2.5], np.float32),
    np.array([[1, 2]]), np.array([1.0, 2.0, 3.0], np.float32), np.array([1e-5, 1.0], np.float32),
    np.array([1e9, 1.0], np.float32), np.array([0.0, 0.0], np.float32),
    np.array([np.inf, -np.inf, np.nan, 1.5], np.float32), np.array([np.inf, 2.0], np.float32),
    np.array([np.nan]), np.array([-0.0, 1.0], np.float32), np.array([123456.7, 0.001], np.float32),
    np.array([1e20, -1e-20]), np.array([1e7, 1.0], np.float32), np.array([100.0, 0.5], np.float32),
    _rng.standard_normal((3, 4)).astype(np.float32), _rng.standard_normal((2, 3, 4)),
    _rng.standard_normal(30).astype(np.float32) * 1000, _rng.standard_normal((40, 40)),
    _rng.standard_normal((5, 5, 50)).astype(np.float32), _rng.integers(-1000, 1000, (50, 30)),
    _rng.standard_normal(2000).astype(np.float32), np.arange(1001), np.arange(1000),
    _rng.standard_normal((1, 1001)).astype(np.float32), _rng.standard_normal((7, 200)),
    _rng.standard_normal((2, 2, 2, 2)).astype(np.float32),
    np.arange(100, dtype=np.float32).reshape(10, 10) * 1.5,
    np.array([True, False]), np.array([[True], [False]]), np.array([1, 2], np.int32),
    np.array([1, 2], np.uint8), np.array([1.5, 2], np.float16), np.array([1 + 2j, -3.5 - 1j]),
    np.array([1 + 2j, -3.5 - 1j], np.complex64), np.zeros((0, 3), np.float32),
    np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros((2, 0)),
]  # fmt: skip


def _torch_repr(t) -> str:
    return repr(t).replace("torch.", "")  # chainrule spells dtypes float64, not torch.float64


@pytest.mark.parametrize("a", PRINTED, ids=lambda a: f"{a.dtype}{a.shape}")
def test_tensor_prints_as_torch(a):
    a = np.asarray(a)
    assert repr(cr.tensor(a)) == _torch_repr(torch.from_numpy(a.copy()))
    assert str(cr.tensor(a)) == repr(cr.tensor(a))


def test_requires_grad_and_grad_fn_suffixes_as_torch():
    x, tx = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == repr(tx) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2).startswith("tensor([2., 4.], grad_fn=<")  # the op name is chainrule's
    a = _rng.standard_normal((3, 20))
    got, want = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    # dtype=float64 is 6 characters shorter than torch's dtype=torch.float64, so the suffixes
    # wrap at the same width with the same rule, compared here with the spelling aligned
    assert repr(got).replace("dtype=float64", "dtype=torch.float64") == repr(want)
    p, tp = cr.nn.Parameter(cr.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    assert repr(p) == repr(tp)


def test_the_default_dtype_is_not_named():
    cr.set_default_dtype(cr.float64)
    try:
        assert repr(cr.tensor([1.5])) == "tensor([1.5000])"
        assert repr(cr.tensor([1.5], dtype=cr.float32)) == "tensor([1.5000], dtype=float32)"
    finally:
        cr.set_default_dtype(cr.float32)
