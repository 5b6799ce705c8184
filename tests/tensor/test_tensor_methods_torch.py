"""Tensor methods and functions PyTorch programs use, checked against PyTorch in float64: values,
and gradients for a random cotangent (the op table gradchecks them numerically)."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CASES = {
    "cumsum": lambda m, t: t.cumsum(1),
    "cumsum_fn": lambda m, t: m.cumsum(t, dim=0),
    "cumprod": lambda m, t: t.cumprod(0),
    "prod_dim": lambda m, t: t.prod(1),
    "prod_keepdim": lambda m, t: m.prod(t, 0, keepdim=True),
    "prod_all": lambda m, t: t.prod(),
    "prod_with_zeros": lambda m, t: (
        t * m.tensor([[0.0, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]])
    ).prod(1),
    "cumprod_with_zeros": lambda m, t: (
        t * m.tensor([[1.0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]])
    ).cumprod(1),
    "norm": lambda m, t: t.norm(),
    "norm_p1_dim": lambda m, t: t.norm(p=1, dim=1),
    "norm_p3_keepdim": lambda m, t: t.norm(p=3, dim=0, keepdim=True),
    "norm_inf": lambda m, t: m.norm(t, p=float("inf"), dim=1),
    "norm_of_zeros": lambda m, t: (t * 0).norm() + t.sum(),
    "repeat": lambda m, t: t.repeat(2, 1, 3),
    "split_size": lambda m, t: m.cat([s * (i + 1) for i, s in enumerate(t.split(3, dim=1))], 1),
    "split_sizes": lambda m, t: m.cat([s * (i + 1) for i, s in enumerate(t.split([1, 2]))], 0),
    "chunk": lambda m, t: m.cat([s * (i + 1) for i, s in enumerate(t.chunk(3, 1))], 1),
    "unbind": lambda m, t: m.stack([s * (i + 1) for i, s in enumerate(t.unbind(1))]),
    "gather": lambda m, t: t.gather(1, m.tensor([[0, 0], [3, 1], [2, 2]])),
    "gather_fn": lambda m, t: m.gather(t, 0, m.tensor([[2, 0, 1, 1]])),
    "scatter_src": lambda m, t: t.scatter(1, m.tensor([[0], [3], [2]]), t[:, 1:2] * 5),
    "scatter_value": lambda m, t: t.scatter(0, m.tensor([[1, 0, 2, 2]]), value=-1.0),
    "scatter_add": lambda m, t: t.scatter_add(0, m.tensor([[0, 1, 2, 0], [0, 0, 0, 0]]), t[:2] * 5),
    "index_select": lambda m, t: t.index_select(1, m.tensor([3, 0, 3])),
    "masked_fill": lambda m, t: t.masked_fill(t > 0, 2.0),
    "masked_fill_row": lambda m, t: t.masked_fill(m.tensor([True, False, True, False]), -3.0),
    "masked_select": lambda m, t: t.masked_select(t > 0),
    "tril": lambda m, t: t.tril(1),
    "triu": lambda m, t: m.triu(t, -1),
    "flip": lambda m, t: t.flip(0, 1) * t,
    "roll": lambda m, t: t.roll(1, 1) * t,
    "roll_dims": lambda m, t: m.roll(t, (1, -2), (0, 1)),
    "roll_flat": lambda m, t: t.roll(5) * t,
    "tan": lambda m, t: t.tan(),
    "floor": lambda m, t: t.floor() + t,
    "ceil": lambda m, t: m.ceil(t) * t,
    "round": lambda m, t: (t * 3).round() + t,
    "trunc": lambda m, t: (t * 3).trunc() * t,
    "sign": lambda m, t: t.sign() * t,
    "lerp": lambda m, t: t.lerp(t * t, 0.3),
    "logsumexp": lambda m, t: t.logsumexp(1),
    # PyTorch's keywords on the method (the CIFAR tutorial's x.flatten(start_dim=1))
    "flatten_start_dim": lambda m, t: t.view(3, 2, 2).flatten(start_dim=1),
    "flatten_end_dim": lambda m, t: t.view(3, 2, 2).flatten(start_dim=0, end_dim=1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(rng, name):
    x = rng.standard_normal((3, 4))
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, want = CASES[name](cr, ours), CASES[name](torch, theirs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(tuple(want.shape))
    got.backward(cr.tensor(cot))
    want.backward(torch.tensor(cot))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_split_pieces_are_views():
    x = cr.zeros(2, 6)
    a, b = x.split(3, dim=1)
    a.fill_(1.0)
    assert x.numpy()[:, :3].sum() == 6.0 and b.numpy().sum() == 0.0


def test_stepwise_functions_have_a_zero_gradient_as_in_torch():
    x = cr.tensor([0.4, 1.6], requires_grad=True)
    x.floor().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_integer_running_sums_stay_integer():
    assert cr.tensor([1, 2, 3]).cumsum(0).tolist() == [1, 3, 6]
    assert cr.tensor([1, 2, 3]).prod().item() == torch.tensor([1, 2, 3]).prod().item() == 6


def test_bad_arguments_name_the_method():
    x = cr.zeros(2, 3)
    with pytest.raises(cr.ShapeError, match=r"split: sizes \[1, 1\] add up to 2"):
        x.split([1, 1], dim=1)
    with pytest.raises(cr.ShapeError, match="index_select: index must be 1-D"):
        x.index_select(0, [[0]])
    with pytest.raises(cr.ShapeError, match="scatter: index must have the tensor's 2 dimensions"):
        x.scatter(0, [0], value=1.0)
    with pytest.raises(cr.ShapeError, match="repeat: 1 repeat counts"):
        x.repeat(2)


# ----- random creation, legacy constructors, grad mode -----
def test_random_draws_have_the_asked_shape_and_law():
    cr.manual_seed(0)
    n = cr.normal(2.0, 3.0, (20000,))
    assert abs(n.mean().item() - 2.0) < 0.1 and abs(n.std().item() - 3.0) < 0.1
    assert cr.normal(cr.zeros(2, 3), 1.0).shape == (2, 3)
    b = cr.bernoulli(cr.full((20000,), 0.25))
    assert set(np.unique(b.numpy())) <= {0.0, 1.0} and abs(b.mean().item() - 0.25) < 0.02
    m = cr.multinomial(cr.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]), 2, replacement=True)
    assert m.shape == (2, 2) and m.dtype == np.int64
    assert m[0].tolist() == [1, 1] and set(m[1].tolist()) <= {0, 2}
    with pytest.raises(RuntimeError, match="without replacement"):
        cr.multinomial(cr.tensor([0.0, 1.0]), 2)
    assert sorted(cr.multinomial(cr.tensor([1.0, 1.0, 1.0]), 3).tolist()) == [0, 1, 2]


def test_seeding_makes_draws_repeat():
    cr.manual_seed(3)
    a = cr.normal(0.0, 1.0, (4,)).tolist() + cr.randint(0, 9, (3,)).tolist()
    cr.manual_seed(3)
    b = cr.normal(0.0, 1.0, (4,)).tolist() + cr.randint(0, 9, (3,)).tolist()
    assert a == b


def test_legacy_constructors():
    assert cr.FloatTensor(2, 3).shape == (2, 3) and cr.FloatTensor(2, 3).dtype == np.float32
    assert cr.LongTensor([1, 2]).dtype == np.int64
    assert isinstance(cr.zeros(1), cr.FloatTensor) and not isinstance(cr.zeros(1), cr.LongTensor)


def test_grad_mode_switches_as_pytorchs():
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)

    @cr.set_grad_enabled(False)
    def f(x):
        return x * 2

    assert cr.is_grad_enabled()  # decorating changes nothing until f runs
    assert not f(cr.ones(1, requires_grad=True)).requires_grad
    with cr.inference_mode():
        assert not (cr.ones(1, requires_grad=True) * 2).requires_grad
    v = cr.autograd.Variable(cr.zeros(2), requires_grad=True)
    assert v.requires_grad and isinstance(v, cr.Tensor)


EINSUM = {
    "ij,jk->ik": [(2, 3), (3, 4)],
    "bij,bjk->bik": [(2, 2, 3), (2, 3, 4)],
    "ii->": [(3, 3)],
    "ii->i": [(3, 3)],
    "iij->j": [(2, 2, 3)],
    "ij->": [(2, 3)],
    "i,j->ij": [(3,), (4,)],
    "ij,ij->i": [(2, 3), (2, 3)],
    "...ij,...jk": [(2, 2, 3), (2, 3, 4)],
    "ba": [(2, 3)],
    "ij,j": [(2, 3), (3,)],
    "bn,anm,bm->ba": [(2, 3), (4, 3, 5), (2, 5)],
}


@pytest.mark.parametrize("equation", sorted(EINSUM))
def test_einsum_matches_torch_and_gradchecks(rng, equation):
    xs = [rng.standard_normal(s) for s in EINSUM[equation]]
    ours = [cr.tensor(x, requires_grad=True) for x in xs]
    theirs = [torch.tensor(x, requires_grad=True) for x in xs]
    got, want = cr.einsum(equation, *ours), torch.einsum(equation, *theirs)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    cot = rng.standard_normal(tuple(want.shape))
    got.backward(cr.tensor(cot))
    want.backward(torch.tensor(cot))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)
    fresh = [cr.tensor(x, requires_grad=True) for x in xs]
    assert cr.gradcheck(lambda *t: cr.einsum(equation, *t), fresh)
    tangents = [rng.standard_normal(x.shape) for x in xs]
    _, jv = cr.jvp(lambda *t: cr.einsum(equation, *t), [cr.tensor(x) for x in xs],
                   [cr.tensor(t) for t in tangents])  # fmt: skip
    _, tjv = torch.func.jvp(lambda *t: torch.einsum(equation, *t),
                            tuple(torch.tensor(x) for x in xs),
                            tuple(torch.tensor(t) for t in tangents))  # fmt: skip
    np.testing.assert_allclose(jv.numpy(), tjv.numpy(), rtol=1e-12, atol=1e-12)


def test_einsum_takes_a_list_and_names_a_bad_equation():
    a = cr.ones(2, 3)
    assert cr.einsum("ij->j", [a]).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="einsum"):
        cr.einsum("ij,jk->ik", a)


def test_grad_takes_pytorchs_keywords():
    x, y = cr.tensor([2.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)
    (gx,) = cr.autograd.grad((x * x).sum(), x, only_inputs=True)
    assert gx.tolist() == [4.0]
    gx, gy = cr.autograd.grad((x * x).sum(), [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0]
    with pytest.raises(NotImplementedError, match="is_grads_batched"):
        cr.autograd.grad((x * x).sum(), x, is_grads_batched=True)
