"""F.affine_grid, F.grid_sample and F.interpolate (bicubic, area) against the installed PyTorch
(float64 values and gradients on the same inputs, the same warnings and kinds of error), and a
grid_sample step replayed by cr.compile."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from torch_compare import close as _close
from torch_compare import pair_of as _pair

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# ----- grid_sample and affine_grid -----
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_torch(mode, padding, align):
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(2, 3, 4, 5)), rng.uniform(-1.4, 1.4, size=(2, 3, 6, 2))
    u = rng.normal(size=(2, 3, 3, 6))
    (cx, tx), (cg, tg) = _pair(x), _pair(g)
    ty = TF.grid_sample(tx, tg, mode=mode, padding_mode=padding, align_corners=align)
    cy = F.grid_sample(cx, cg, mode=mode, padding_mode=padding, align_corners=align)
    ty.backward(torch.tensor(u))
    cy.backward(cr.tensor(u))
    _close(cy, ty)
    _close(cx.grad, tx.grad)
    _close(cg.grad, tg.grad)  # zeros for 'nearest', as torch's


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_identity_grid_on_the_borders(padding):
    """affine_grid's identity grid with align_corners=True puts points exactly on ±1 (the
    border pixels' centres): values and the grid's gradient there as torch's kernel gives."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 2, 3, 4))
    theta = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    (cx, tx), (ct, tt) = _pair(x), _pair(theta)
    ty = TF.grid_sample(tx, TF.affine_grid(tt, (1, 2, 3, 4), True), "bilinear", padding, True)
    cy = F.grid_sample(cx, F.affine_grid(ct, (1, 2, 3, 4), True), "bilinear", padding, True)
    u = rng.normal(size=cy.shape)
    ty.backward(torch.tensor(u))
    cy.backward(cr.tensor(u))
    _close(cy, ty)
    _close(cx.grad, tx.grad)
    _close(ct.grad, tt.grad)


def test_grid_sample_float32_and_second_order():
    rng = np.random.default_rng(2)
    x, g = rng.normal(size=(1, 2, 5, 4)), rng.uniform(-1.2, 1.2, size=(1, 3, 3, 2))
    y32 = F.grid_sample(cr.tensor(x, dtype=cr.float32), cr.tensor(g, dtype=cr.float32),
                        align_corners=False)  # fmt: skip
    t32 = TF.grid_sample(torch.tensor(x).float(), torch.tensor(g).float(), align_corners=False)
    assert y32.dtype == cr.float32
    np.testing.assert_allclose(y32.numpy(), t32.numpy(), rtol=1e-5, atol=1e-6)
    # Gradients of gradients: d/dx of |d y / d grid|², as torch computes it.
    (cx, tx), (cg, tg) = _pair(x), _pair(g)
    (dg,) = cr.autograd.grad(F.grid_sample(cx, cg, align_corners=False).sum(), [cg],
                             create_graph=True)  # fmt: skip
    (tdg,) = torch.autograd.grad(TF.grid_sample(tx, tg, align_corners=False).sum(), [tg],
                                 create_graph=True)  # fmt: skip
    (dg**2).sum().backward()
    (tdg**2).sum().backward()
    _close(cx.grad, tx.grad)


@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_matches_torch(align):
    rng = np.random.default_rng(3)
    theta, u = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 4, 5, 2))
    ct, tt = _pair(theta)
    cy, ty = F.affine_grid(ct, (2, 3, 4, 5), align), TF.affine_grid(tt, (2, 3, 4, 5), align)
    ty.backward(torch.tensor(u))
    cy.backward(cr.tensor(u))
    _close(cy, ty)
    _close(ct.grad, tt.grad)
    # A size-1 axis sits at 0, as torch's (which warns with align_corners=True).
    with warnings.catch_warnings(record=True) as want:
        warnings.simplefilter("always")
        ty = TF.affine_grid(tt, (2, 1, 1, 3), align)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        _close(F.affine_grid(ct, (2, 1, 1, 3), align), ty)
    assert [str(w.message) for w in got] == [str(w.message) for w in want]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_is_torch_to_the_last_bit(dtype, align):
    """The base grid (linspace's rounding, then * (n - 1) / n) and the product are rounded as
    PyTorch's CPU kernel rounds them: the identity and random thetas give torch's very grid."""
    rng = np.random.default_rng(5)
    for n, h, w in [(1, 28, 28), (3, 7, 5), (2, 1, 3), (2, 16, 33), (1, 100, 3), (1, 301, 2)]:
        eye = np.tile(np.eye(2, 3, dtype=dtype), (n, 1, 1))
        for theta in (eye, rng.standard_normal((n, 2, 3)).astype(dtype)):
            got = F.affine_grid(cr.tensor(theta), (n, 1, h, w), align)
            want = TF.affine_grid(torch.tensor(theta), (n, 1, h, w), align)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_align_corners_none_warns_as_torch():
    theta = np.eye(2, 3)[None]
    for fn, tfn in ((F.affine_grid, TF.affine_grid),):
        with pytest.warns(UserWarning) as got:
            fn(cr.tensor(theta), (1, 1, 2, 2))
        with warnings.catch_warnings(record=True) as want:
            warnings.simplefilter("always")
            tfn(torch.tensor(theta), (1, 1, 2, 2))
        assert str(got[0].message) == str(want[0].message)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0") as got:
        F.grid_sample(cr.zeros(1, 1, 2, 2), cr.zeros(1, 1, 1, 2))
    assert got[0].filename == __file__  # the user's line


def _both_raise(cfn, tfn, match):
    with pytest.raises(Exception) as want:
        tfn()
    with pytest.raises(want.type, match=match):
        cfn()


def test_grid_sample_and_affine_grid_errors_as_torch():
    x, g = np.zeros((1, 1, 3, 4)), np.zeros((1, 3, 4, 2))
    cx, tx, cg, tg = cr.tensor(x), torch.tensor(x), cr.tensor(g), torch.tensor(g)
    _both_raise(lambda: F.grid_sample(cx, cg, mode="foo", align_corners=False),
                lambda: TF.grid_sample(tx, tg, mode="foo", align_corners=False),
                "expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'foo'")  # fmt: skip
    _both_raise(lambda: F.grid_sample(cx, cg, padding_mode="x", align_corners=False),
                lambda: TF.grid_sample(tx, tg, padding_mode="x", align_corners=False),
                "expected padding_mode")  # fmt: skip
    _both_raise(lambda: F.grid_sample(cx.repeat(2, 1, 1, 1), cg, align_corners=False),
                lambda: TF.grid_sample(tx.repeat(2, 1, 1, 1), tg, align_corners=False),
                "same batch size")  # fmt: skip
    _both_raise(lambda: F.grid_sample(cx, cg[..., :1], align_corners=False),
                lambda: TF.grid_sample(tx, tg[..., :1], align_corners=False),
                "size 2 in last dimension")  # fmt: skip
    theta = np.zeros((1, 2, 3))
    _both_raise(lambda: F.affine_grid(cr.tensor(theta), (1, 1, 3), False),
                lambda: TF.affine_grid(torch.tensor(theta), (1, 1, 3), False),
                "only supports 4D and 5D sizes")  # fmt: skip
    _both_raise(lambda: F.affine_grid(cr.zeros(1, 3, 3), (1, 1, 3, 4), False),
                lambda: TF.affine_grid(torch.zeros(1, 3, 3), (1, 1, 3, 4), False),
                "Expected a batch of 2D affine matrices of shape Nx2x3")  # fmt: skip
    _both_raise(lambda: F.affine_grid(cr.tensor(theta), (2, 1, 3, 4), False),
                lambda: TF.affine_grid(torch.tensor(theta), (2, 1, 3, 4), False),
                "theta holds 1 matrices but size asks for a batch of 2")  # fmt: skip
    with pytest.raises(NotImplementedError, match="'bicubic' is not implemented"):
        F.grid_sample(cx, cg, mode="bicubic", align_corners=False)


# ----- interpolate: bicubic and area -----
INTERP_CASES = [
    ("bicubic", (2, 3, 5, 4), {"size": (7, 9)}),
    ("bicubic", (1, 2, 6, 7), {"size": (4, 3)}),  # downsampling
    ("bicubic", (1, 2, 4, 5), {"scale_factor": 1.7}),
    ("bicubic", (1, 2, 4, 5), {"scale_factor": (2.5, 0.6), "recompute_scale_factor": True}),
    ("bicubic", (1, 1, 1, 3), {"size": (3, 1)}),  # size-1 axes both ways
    ("area", (2, 3, 7, 5), {"size": (3, 2)}),  # overlapping windows
    ("area", (1, 2, 4, 6), {"size": (8, 6)}),
    ("area", (2, 3, 10), {"size": 4}),
    ("area", (1, 2, 9, 6), {"scale_factor": 0.5}),
]


@pytest.mark.parametrize("align", [None, False, True])
@pytest.mark.parametrize(("mode", "shape", "kw"), INTERP_CASES)
def test_interpolate_bicubic_and_area_match_torch(mode, shape, kw, align):
    if mode == "area" and align is not None:
        _both_raise(lambda: F.interpolate(cr.zeros(*shape), mode=mode, align_corners=align, **kw),
                    lambda: TF.interpolate(torch.zeros(*shape), mode=mode, align_corners=align,
                                           **kw),
                    "align_corners option can only be set with the interpolating modes")  # fmt: skip
        return
    rng = np.random.default_rng(8)
    cx, tx = _pair(rng.normal(size=shape))
    cy = F.interpolate(cx, mode=mode, align_corners=align, **kw)
    ty = TF.interpolate(tx, mode=mode, align_corners=align, **kw)
    u = rng.normal(size=ty.shape)
    cy.backward(cr.tensor(u))
    ty.backward(torch.tensor(u))
    _close(cy, ty)
    _close(cx.grad, tx.grad)


def test_interpolate_bicubic_gradcheck_and_refusals():
    x = cr.tensor(np.random.default_rng(9).normal(size=(1, 2, 3, 4)), requires_grad=True)
    assert cr.gradcheck(lambda x: F.interpolate(x, size=(5, 6), mode="bicubic"), [x])
    assert cr.gradcheck(lambda x: F.interpolate(x, size=(2, 3), mode="area"), [x])
    up = cr.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)(x)
    want = torch.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)(
        torch.tensor(x.numpy())
    )
    _close(up, want)
    _both_raise(lambda: F.interpolate(cr.zeros(1, 2, 5), size=7, mode="bicubic"),
                lambda: TF.interpolate(torch.zeros(1, 2, 5), size=7, mode="bicubic"),
                "bicubic")  # fmt: skip
    with pytest.raises(cr.ShapeError):  # the same error, for `except ValueError` too
        F.interpolate(cr.zeros(1, 2, 5), size=7, mode="bicubic")
    with pytest.raises(NotImplementedError, match="antialias=True"):
        F.interpolate(cr.zeros(1, 1, 4, 4), size=2, mode="bicubic", antialias=True)


def test_grid_sample_step_compiles_and_replays_exactly():
    """The pixel positions are recomputed at every replay: a compiled step that samples new
    images (and so new positions past the reflection) gives the eager loss and gradient."""
    theta = cr.tensor([[[0.9, 0.3, 0.05], [-0.2, 1.4, 0.0]]], requires_grad=True)

    def step(img):
        grid = F.affine_grid(theta, (1, 2, 4, 4), align_corners=False)
        out = F.grid_sample(img, grid, padding_mode="reflection", align_corners=False)
        loss = (out**2).sum()
        loss.backward()
        return loss

    compiled = cr.compile(step)
    rng = np.random.default_rng(15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a step that cannot be replayed warns
        for _ in range(3):
            img = cr.tensor(rng.normal(size=(1, 2, 5, 6)), dtype=cr.float32)
            theta.grad = None
            got, got_grad = compiled(img).item(), theta.grad.numpy().copy()
            theta.grad = None
            want, want_grad = step(img).item(), theta.grad.numpy().copy()
            assert got == want
            np.testing.assert_array_equal(got_grad, want_grad)
