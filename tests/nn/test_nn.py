"""cr.nn against PyTorch: layers with copied weights (outputs and gradients with respect to the
input and every parameter, random upstream gradients, float64), BatchNorm's running statistics,
state dicts moving both ways, Module bookkeeping, Dropout, init statistics and gradient clipping."""

import copy
import math
import pickle

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.nn import init

torch = pytest.importorskip("torch")


def _to_torch_sd(model):
    return {k: torch.tensor(np.array(v.numpy())) for k, v in model.state_dict().items()}


def _copy_into_torch(ours, theirs):
    theirs.load_state_dict(_to_torch_sd(ours))
    return theirs


def _check_layer(ours, theirs, x, rng, atol=1e-10):
    """Same output, and same gradients for the input and every parameter (by name), under one
    random upstream gradient."""
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yc, yt = ours(xc), theirs(xt)
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-9, atol=atol)
    g = rng.normal(size=yc.shape)
    yc.backward(g)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=atol)
    tp = dict(theirs.named_parameters())
    ours_named = dict(ours.named_parameters())
    assert ours_named.keys() == tp.keys()
    for name, p in ours_named.items():
        np.testing.assert_allclose(
            p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-9, atol=atol, err_msg=name
        )


# ----- layers against PyTorch -----
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias, float64, rng):
    ours = nn.Linear(4, 3, bias=bias)
    theirs = _copy_into_torch(ours, torch.nn.Linear(4, 3, bias=bias).double())
    _check_layer(ours, theirs, rng.normal(size=shape), rng)


def test_linear_parameters_follow_torch_layout_and_init():
    cr.manual_seed(0)
    fc = nn.Linear(50, 20)
    assert fc.weight.shape == (20, 50) and fc.bias.shape == (20,)
    assert fc.weight.dtype == np.float32  # the default dtype
    bound = 1 / math.sqrt(50)
    for p in (fc.weight, fc.bias):
        assert np.abs(p.numpy()).max() <= bound
    # uniform on [-bound, bound]: std = bound / sqrt(3)
    np.testing.assert_allclose(fc.weight.numpy().std(), bound / math.sqrt(3), rtol=0.1)
    cr.manual_seed(0)
    again = nn.Linear(50, 20)
    np.testing.assert_array_equal(fc.weight.numpy(), again.weight.numpy())
    np.testing.assert_array_equal(fc.bias.numpy(), again.bias.numpy())


def test_linear_uses_default_dtype(float64):
    assert nn.Linear(2, 3).weight.dtype == np.float64


def test_linear_shape_error_names_the_layer():
    with pytest.raises(cr.ShapeError, match=r"linear.*\(3, 4\).*\(2, 5\)"):
        nn.Linear(4, 3)(cr.zeros(2, 5))


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (nn.ReLU(), torch.nn.ReLU(), (4, 5)),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), (4, 5)),
        (nn.Sigmoid(), torch.nn.Sigmoid(), (4, 5)),
        (nn.Tanh(), torch.nn.Tanh(), (4, 5)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1), (3, 4, 2)),
        (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1), (3, 4, 2)),
        (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1), (3, 4, 2)),
        (nn.Flatten(), torch.nn.Flatten(), (2, 3, 2, 2)),
        (nn.Flatten(0, 1), torch.nn.Flatten(0, 1), (2, 3, 2)),
        (nn.Identity(), torch.nn.Identity(), (2, 3)),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else str(v),
)
def test_parameterless_layers_match_torch(ours, theirs, shape, float64, rng):
    _check_layer(ours, theirs, rng.normal(size=shape), rng)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_default_dim_follows_torch(shape, rng):
    x = rng.normal(size=shape)
    np.testing.assert_allclose(
        F.softmax(cr.tensor(x)).numpy(), torch.nn.functional.softmax(torch.tensor(x)).numpy()
    )


@pytest.mark.parametrize("normalized_shape", [4, (3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(normalized_shape, affine, float64, rng):
    ours = nn.LayerNorm(normalized_shape, elementwise_affine=affine)
    theirs = torch.nn.LayerNorm(normalized_shape, elementwise_affine=affine).double()
    if affine:  # non-trivial affine parameters, so that their gradients matter
        ours.weight.data[...] = rng.normal(size=ours.weight.shape)
        ours.bias.data[...] = rng.normal(size=ours.bias.shape)
        _copy_into_torch(ours, theirs)
    _check_layer(ours, theirs, rng.normal(size=(2, 3, 4)) * 3 + 1, rng)


def test_layer_norm_shape_error():
    with pytest.raises(cr.ShapeError, match=r"layer_norm.*\(3,\).*\(2, 4\)"):
        nn.LayerNorm(3)(cr.zeros(2, 4))


def _batchnorm_pair(C, rng, **kw):
    ours = nn.BatchNorm1d(C, **kw)
    theirs = torch.nn.BatchNorm1d(C, **kw).double()
    if ours.affine:
        ours.weight.data[...] = rng.normal(size=C)
        ours.bias.data[...] = rng.normal(size=C)
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.numpy()))
            theirs.bias.copy_(torch.tensor(ours.bias.numpy()))
    return ours, theirs


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize(
    "kw",
    [{}, {"momentum": None}, {"affine": False, "momentum": 0.3}, {"track_running_stats": False}],
    ids=["default", "cumulative", "no-affine", "no-running-stats"],
)
def test_batchnorm1d_train_then_eval_matches_torch(shape, kw, float64, rng):
    ours, theirs = _batchnorm_pair(shape[1], rng, **kw)
    for _ in range(4):
        for m in (ours, theirs):
            for p in m.parameters():
                p.grad = None
        _check_layer(ours, theirs, rng.normal(size=shape) * 2 + 0.5, rng)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for k in theirs_sd:
        np.testing.assert_allclose(ours_sd[k].numpy(), theirs_sd[k].numpy(), rtol=1e-12, err_msg=k)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == 4
    ours.eval()
    theirs.eval()
    _check_layer(ours, theirs, rng.normal(size=shape), rng)


@pytest.mark.parametrize("training", [True, False])
def test_functional_batch_norm_4d_matches_torch(training, float64, rng):
    x = rng.normal(size=(2, 3, 4, 5)) * 2 + 1
    w, b = rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmc, rvc = cr.tensor(rm), cr.tensor(rv)
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    yc = F.batch_norm(xc, rmc, rvc, wc, bc, training=training, momentum=0.2, eps=1e-3)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training, 0.2, 1e-3)
    np.testing.assert_allclose(yc.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=x.shape)
    yc.backward(g)
    yt.backward(torch.tensor(g))
    for c, t in ((xc, xt), (wc, wt), (bc, bt), (rmc, rmt), (rvc, rvt)):
        got = c.grad.numpy() if c.requires_grad else c.numpy()
        want = t.grad.numpy() if t.requires_grad else t.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_batch_norm_and_layer_norm_gradcheck(float64, rng):
    x = cr.tensor(rng.normal(size=(3, 2, 2)), requires_grad=True)
    w = cr.tensor(rng.normal(size=2), requires_grad=True)
    b = cr.tensor(rng.normal(size=2), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    assert cr.gradcheck(lambda x, w, b: F.layer_norm(x, 2, w, b), [x, w, b])
    assert cr.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])
    rm, rv = cr.tensor(rng.normal(size=2)), cr.tensor(rng.uniform(0.5, 2, size=2))
    assert cr.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), [x, w, b])  # eval


def test_fused_batch_norm_second_order_and_forward_mode(float64, rng):
    """The training-mode op recomputes its residuals differentiably under create_graph."""
    x = cr.tensor(rng.normal(size=(4, 2, 2)), requires_grad=True)
    w = cr.tensor(rng.normal(size=2), requires_grad=True)
    b = cr.tensor(rng.normal(size=2), requires_grad=True)
    u = cr.tensor(rng.normal(size=(4, 2, 2)))

    def grads(x, w, b):
        y = F.batch_norm(x, None, None, w, b, training=True)
        return cr.grad(y, [x, w, b], u, create_graph=True)

    assert cr.gradcheck(grads, [x, w, b])
    tx, tw, tb = rng.normal(size=(4, 2, 2)), rng.normal(size=2), rng.normal(size=2)
    bn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    _, tangent = cr.jvp(bn, (x, w, b), (cr.tensor(tx), cr.tensor(tw), cr.tensor(tb)))
    gx, gw, gb = cr.grad(bn(x, w, b), [x, w, b], u)
    expect = (gx.numpy() * tx).sum() + (gw.numpy() * tw).sum() + (gb.numpy() * tb).sum()
    np.testing.assert_allclose((tangent.numpy() * u.numpy()).sum(), expect, rtol=1e-10)


def test_batchnorm_errors():
    with pytest.raises(cr.ShapeError, match=r"BatchNorm1d.*\(2, 3, 4, 5\)"):
        nn.BatchNorm1d(3)(cr.zeros(2, 3, 4, 5))
    with pytest.raises(cr.ShapeError, match=r"BatchNorm1d\(4\).*4 channels.*\(2, 3\)"):
        nn.BatchNorm1d(4)(cr.zeros(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(cr.zeros(1, 3))  # fine in evaluation mode


# ----- Dropout -----
def test_dropout_statistics_and_eval_identity():
    cr.manual_seed(1)
    p = 0.3
    x = cr.ones(200_000, requires_grad=True)
    drop = nn.Dropout(p)
    y = drop(x)
    kept = y.numpy() != 0
    assert abs(1 - kept.mean() - p) < 0.005  # 5 standard deviations is ~0.005
    np.testing.assert_allclose(y.numpy()[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.numpy().mean() - 1) < 0.01  # the expectation is preserved
    y.backward(cr.full((200_000,), 2.0))
    np.testing.assert_allclose(x.grad.numpy(), 2 * y.numpy(), rtol=1e-6)  # grad = g · mask
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, p, training=False) is x


def test_dropout_shapes_seed_and_extremes():
    x = cr.randn(4, 3, 5)
    cr.manual_seed(7)
    a = F.dropout(x, 0.5)
    cr.manual_seed(7)
    b = F.dropout(x, 0.5)
    assert a.shape == x.shape
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="Dropout: p"):
        nn.Dropout(1.5)


# ----- state dicts -----
class _Net(nn.Module):
    def __init__(self, lib):
        super().__init__()
        self.features = lib.Sequential(lib.Linear(4, 6), lib.BatchNorm1d(6), lib.ReLU())
        self.head = lib.Linear(6, 3)
        self.norm = lib.LayerNorm(3)

    def forward(self, x):
        return self.norm(self.head(self.features(x)))


class _TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lib = torch.nn
        self.features = lib.Sequential(lib.Linear(4, 6), lib.BatchNorm1d(6), lib.ReLU())
        self.head = lib.Linear(6, 3)
        self.norm = lib.LayerNorm(3)

    def forward(self, x):
        return self.norm(self.head(self.features(x)))


def test_state_dict_names_and_shapes_equal_torch():
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    tseq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    assert {k: v.shape for k, v in seq.state_dict().items()} == {
        k: tuple(v.shape) for k, v in tseq.state_dict().items()
    }
    ours, theirs = _Net(nn), _TorchNet()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)  # same names, same order
    assert all(sd[k].shape == tuple(tsd[k].shape) for k in tsd)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]


def test_state_dict_moves_both_ways_and_models_agree(float64, rng):
    theirs = _TorchNet().double()
    ours = _Net(nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    # Train-mode steps move the running statistics identically...
    for _ in range(2):
        x = rng.normal(size=(5, 4))
        np.testing.assert_allclose(
            ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), atol=1e-12
        )
    # ...and a chainrule state dict loads back into a fresh torch model.
    fresh = _TorchNet().double()
    fresh.load_state_dict(_to_torch_sd(ours))
    ours.eval()
    fresh.eval()
    x = rng.normal(size=(3, 4))
    np.testing.assert_allclose(
        ours(cr.tensor(x)).numpy(), fresh(torch.tensor(x)).detach().numpy(), atol=1e-12
    )
    assert fresh.features[1].num_batches_tracked.item() == 2


def test_load_state_dict_accepts_tensors_and_copies_in_place():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    w = b.weight
    b.load_state_dict(a.state_dict())
    assert b.weight is w  # same Parameter object: an optimiser holding it sees the new values
    np.testing.assert_array_equal(b.weight.numpy(), a.weight.numpy())
    a.weight.data[...] = 0  # the copy does not alias the source
    assert np.any(b.weight.numpy() != 0)


def test_load_state_dict_errors_name_the_keys():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    sd = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    before = model.state_dict()["0.weight"].numpy().copy()

    missing = dict(sd)
    del missing["2.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "2.bias"'):
        model.load_state_dict(missing)

    extra = dict(sd, **{"3.weight": np.zeros(1)})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "3.weight"'):
        model.load_state_dict(extra)

    wrong = dict(sd, **{"0.weight": np.zeros((3, 2))})
    wrong["0.bias"] = np.ones(2)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight.*\(3, 2\).*\(2, 3\)"):
        model.load_state_dict(wrong)
    # A failed load changes nothing, not even the entries that would have fitted.
    np.testing.assert_array_equal(model.state_dict()["0.weight"].numpy(), before)
    assert not np.all(model.state_dict()["0.bias"].numpy() == 1)

    result = model.load_state_dict(dict(missing, **{"extra": np.zeros(1)}), strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight"):
        model.load_state_dict(wrong, strict=False)  # shapes are checked even when not strict


# ----- Module bookkeeping -----
def test_named_parameters_children_modules():
    net = _Net(nn)
    names = [n for n, _ in net.named_parameters()]
    assert names[:4] == [
        "features.0.weight",
        "features.0.bias",
        "features.1.weight",
        "features.1.bias",
    ]
    assert [n for n, _ in net.named_children()] == ["features", "head", "norm"]
    assert len(list(net.modules())) == 7  # net, features, 3 inside, head, norm
    assert len(list(net.parameters())) == 8
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(3, 3)
    seq = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_train_eval_zero_grad_apply_requires_grad():
    net = _Net(nn)
    assert net.training and net.features[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    F.cross_entropy(net(cr.randn(4, 4)), np.array([0, 1, 2, 0])).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "_Net" and seen[0] == "Linear"
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_double_keeps_parameter_objects():
    net = _Net(nn)
    params = list(net.parameters())
    net.double()
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.features[1].running_mean.dtype == np.float64
    assert net.features[1].num_batches_tracked.dtype == np.int64
    assert net(cr.randn(3, 4).double()).dtype == np.float64
    assert net.float().head.weight.dtype == np.float32
    assert net.to("cpu") is net and net.to(cr.float64, device="cpu").head.weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="no GPU backend"):
        net.to(device="cuda")


def test_registration_rules():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.zeros(2))
            self.register_buffer("stat", cr.zeros(2))
            self.register_buffer("scratch", cr.zeros(1), persistent=False)
            self.plain = 3

    m = M()
    assert list(m.state_dict()) == ["w", "stat"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "scratch"]
    assert m.plain == 3 and m.w.shape == (2,)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'w'"):
        m.w = cr.zeros(2)
    m.stat = cr.ones(2)  # buffers may be replaced by any Tensor
    assert m.state_dict()["stat"].numpy().tolist() == [1, 1]
    m.w = nn.Parameter(np.ones(3))
    assert m.w.shape == (3,) and len(list(m.parameters())) == 1
    del m.w
    assert list(m.parameters()) == []
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing

    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_module_list_and_sequential_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    assert [n for n, _ in layers.named_parameters()][-1] == "3.bias"
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and head(cr.randn(4, 2)).shape == (4, 3)
    seq[1] = nn.Tanh()
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]
    with pytest.raises(TypeError, match="forget to instantiate"):
        nn.Sequential(nn.Linear(2, 2), nn.ReLU)
    d = nn.ModuleDict({"enc": nn.Linear(2, 2)})
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias"]


def test_repr_like_torch():
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.BatchNorm1d(8))
    tseq = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.BatchNorm1d(8)
    )
    assert repr(seq) == repr(tseq)  # Dropout(p=0.1, inplace=False), as PyTorch prints it
    assert repr(nn.LayerNorm(3)) == repr(torch.nn.LayerNorm(3))
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())


def test_parameter_is_a_tensor_and_copies():
    p = nn.Parameter(np.arange(3.0))
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert (p * 2).__class__ is cr.Tensor
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert isinstance(q, nn.Parameter) and q.requires_grad
        np.testing.assert_array_equal(q.numpy(), p.numpy())
        assert q.numpy() is not p.numpy()
    net = copy.deepcopy(_Net(nn))
    assert len(list(net.parameters())) == 8


def test_nn_is_reachable_from_the_package():
    import chainrule.functional as functional

    assert cr.nn is nn
    public = [n for n in dir(functional) if not n.startswith("_")]
    for name in public:
        assert getattr(F, name) is getattr(functional, name)
    for name in ["linear", "relu", "cross_entropy", "dropout", "batch_norm", "layer_norm"]:
        assert callable(getattr(F, name)), name


# ----- init -----
@pytest.mark.parametrize(
    ("fn", "kwargs", "std", "bound"),
    [
        (init.uniform_, {"a": -2.0, "b": 1.0}, 3 / math.sqrt(12), 1.5),
        (init.normal_, {"mean": 0.0, "std": 0.3}, 0.3, None),
        (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(2 / 900), 2 * math.sqrt(6 / 900)),
        (init.xavier_normal_, {}, math.sqrt(2 / 900), None),
        (init.kaiming_uniform_, {"nonlinearity": "relu"}, math.sqrt(2 / 400), math.sqrt(6 / 400)),
        (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(3 * 400), 1 / math.sqrt(400)),
        (
            init.kaiming_normal_,
            {"mode": "fan_out", "nonlinearity": "relu"},
            math.sqrt(2 / 500),
            None,
        ),
    ],
    ids=[
        "uniform",
        "normal",
        "xavier_uniform",
        "xavier_normal",
        "kaiming_uniform",
        "kaiming_a5",
        "kaiming_normal",
    ],
)
def test_init_statistics(fn, kwargs, std, bound):
    cr.manual_seed(3)
    w = nn.Parameter(np.zeros((500, 400)))
    assert fn(w, **kwargs) is w
    mean = kwargs.get("mean", (kwargs["a"] + kwargs["b"]) / 2 if fn is init.uniform_ else 0.0)
    assert abs(w.numpy().mean() - mean) < 5 * std / math.sqrt(w.numpy().size)
    np.testing.assert_allclose(w.numpy().std(), std, rtol=0.01)
    if bound is not None:  # uniform: the draws fill [mean - bound, mean + bound]
        spread = np.abs(w.numpy() - mean).max()
        assert 0.999 * bound < spread <= bound


def test_init_constants_fans_and_gains():
    w = nn.Parameter(np.zeros((4, 3, 2, 2), dtype=np.float32))
    init.constant_(w, 0.5)
    assert np.all(w.numpy() == 0.5) and w.dtype == np.float32
    assert np.all(init.ones_(w).numpy() == 1) and np.all(init.zeros_(w).numpy() == 0)
    assert init._calculate_fan_in_and_fan_out(w) == (12, 16)  # in·kh·kw, out·kh·kw
    for nl, param in [
        ("linear", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("sigmoid", None),
    ]:
        assert init.calculate_gain(nl, param) == pytest.approx(
            torch.nn.init.calculate_gain(nl, param)
        )
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    cr.manual_seed(5)
    a = init.normal_(nn.Parameter(np.zeros(5))).numpy().copy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(nn.Parameter(np.zeros(5))).numpy(), a)


# ----- gradient clipping -----
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    grads = [rng.normal(size=(3, 4)), rng.normal(size=(5,))]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = cr.tensor(g)
        q.grad = torch.tensor(g)
    ours.append(nn.Parameter(np.zeros(2)))  # no gradient: skipped
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    assert ours[-1].grad is None


def test_grad_accepts_a_numpy_upstream_gradient(rng):
    """Regression (engine): cr.grad(out, x, ndarray) iterated the array's rows as if it were a
    list of upstream gradients, one per output."""
    x = cr.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    u = rng.normal(size=(3, 2))
    (gx,) = cr.grad(x * 2.0, [x], u)
    np.testing.assert_allclose(gx.numpy(), 2 * u)


def test_one_hot_matches_torch_and_names_bad_indices():
    idx = np.array([[0, 3, 1], [2, 2, 0]])
    for k in (4, 6, -1):
        ours = F.one_hot(cr.tensor(idx), k)
        theirs = torch.nn.functional.one_hot(torch.tensor(idx), k)
        assert ours.dtype == np.int64 and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(IndexError, match=r"one_hot: class values must lie in \[0, 3\)"):
        F.one_hot(cr.tensor([0, 3]), 3)
    with pytest.raises(IndexError, match="one_hot"):
        F.one_hot(cr.tensor([-1, 0]), 3)
    with pytest.raises(TypeError, match="one_hot: expected integer class indices"):
        F.one_hot(cr.tensor([0.5]), 3)
