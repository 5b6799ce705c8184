"""Convolution paths: ops/conv.py's im2col in chunks of images, and the shifted-GEMM alternative
that bench_conv.py --paths measures against it (benchmarks/conv_shifted.py), computing the same
convolution; narrowing convolutions (C > O, whose stride-1 input gradients are widening ones)
against PyTorch, forward, input and weight gradients, second derivatives, and gradcheck."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import conv as k

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import conv_shifted

torch = pytest.importorskip("torch")

# (kh, kw, ph, pw): square and non-square kernels, no padding, padding wider on one side's axis,
# a 1×1 kernel (one offset: no accumulation) and a kernel as large as the padded input.
GEOMETRIES = [(3, 3, 1, 1), (3, 3, 0, 0), (2, 3, 1, 0), (1, 1, 0, 0), (5, 4, 1, 2), (7, 6, 0, 0)]


@pytest.mark.parametrize(("kh", "kw", "ph", "pw"), GEOMETRIES)
def test_shifted_gemms_equal_im2col(float64, rng, kh, kw, ph, pw):
    geom = k.Geometry(kh, kw, 1, 1, ph, pw)
    x = rng.standard_normal((2, 5, 7, 6))
    w = rng.standard_normal((3, 5, kh, kw))
    ho, wo = geom.out_hw(7, 6)
    g = rng.standard_normal((2, 3, ho, wo))
    cols = k.im2col(x, geom)
    y_ref = (cols @ k._weight_matrix(w).T).reshape(2, ho, wo, 3).transpose(0, 3, 1, 2)
    y = conv_shifted.conv2d_shifted(x, w, geom)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous  # channels-last, as im2col's result
    dw_ref = (k._grad_rows(g).T @ cols).reshape(3, kh, kw, 5).transpose(0, 3, 1, 2)
    dw = conv_shifted.conv2d_weight_shifted(x, g, w.shape, geom)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("kh", "kw", "ph", "pw"), GEOMETRIES[:5])
def test_narrowing_conv2d_matches_torch(float64, rng, kh, kw, ph, pw):
    x = rng.standard_normal((2, 6, 8, 7))
    w = rng.standard_normal((4, 6, kh, kw))
    b = rng.standard_normal(4)
    ins = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.conv2d(*ins, padding=(ph, pw))
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    yt = torch.nn.functional.conv2d(*tins, padding=(ph, pw))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    up = rng.standard_normal(y.shape)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    for ours, theirs in zip(ins, tins):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_narrowing_conv2d_float32_matches_torch(rng):
    # The zoo's shapes in float32: the shifted sums are ordered differently from im2col's.
    x = rng.standard_normal((4, 64, 14, 14), dtype=np.float32)
    w = rng.standard_normal((32, 64, 3, 3), dtype=np.float32) * 0.05
    xs, ws = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    y = F.conv2d(xs, ws, padding=1)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, padding=1)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    up = rng.standard_normal(y.shape, dtype=np.float32)
    y.backward(cr.tensor(up))
    yt.backward(torch.tensor(up))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ws.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_gradcheck_narrowing_conv2d(float64, rng):
    x = cr.tensor(rng.standard_normal((2, 4, 5, 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 4, 3, 2)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), requires_grad=True)
    assert cr.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), [x, w, b])


def test_gradcheck_narrowing_conv2d_backward_is_differentiable(float64, rng):
    x = cr.tensor(rng.standard_normal((1, 4, 4, 5)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((2, 4, 2, 3)), requires_grad=True)
    u = cr.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)

    def backward(x, w, u):
        y = F.conv2d(x, w, padding=1)
        return cr.grad((y * u).sum(), [x, w], create_graph=True)

    assert cr.gradcheck(backward, [x, w, u])


def test_narrowing_conv2d_second_derivatives_match_torch(float64, rng):
    x = rng.standard_normal((2, 5, 6, 5))
    w = rng.standard_normal((3, 5, 3, 3))
    up = rng.standard_normal((2, 3, 6, 5))

    def penalty(gx, gw):
        return (gx * gx).sum() + (gw * gw * gw).sum()

    ins = [cr.tensor(a, requires_grad=True) for a in (x, w)]
    y = F.conv2d(*ins, padding=1)
    penalty(*cr.grad((y * cr.tensor(up)).sum(), ins, create_graph=True)).backward()
    tins = [torch.tensor(a, requires_grad=True) for a in (x, w)]
    yt = torch.nn.functional.conv2d(*tins, padding=1)
    penalty(*torch.autograd.grad((yt * torch.tensor(up)).sum(), tins, create_graph=True)).backward()
    for ours, theirs in zip(ins, tins):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("chunk_bytes", [1, 3000])  # one image per chunk; a few, uneven
def test_im2col_in_chunks_of_images_equals_one_product(float64, rng, monkeypatch, chunk_bytes):
    x = rng.standard_normal((5, 3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    up = rng.standard_normal((5, 4, 4, 3))
    geom = k.Geometry(3, 3, 2, 2, 1, 1)
    ref = k.conv2d(x, w, b, geom), k.conv2d_weight(x, up, w.shape, geom)
    monkeypatch.setattr(k, "CHUNK_BYTES", chunk_bytes)
    assert len(k._image_chunks(x, 12, geom)) > 1
    np.testing.assert_allclose(k.conv2d(x, w, b, geom), ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        k.conv2d_weight(x, up, w.shape, geom), ref[1], rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("chunk_bytes", [1, 20000])  # one image a chunk; 4 and 1
def test_shifted_gemms_in_chunks_of_images_equal_one_pass(float64, rng, monkeypatch, chunk_bytes):
    x = rng.standard_normal((5, 6, 7, 6))
    w = rng.standard_normal((2, 6, 3, 2))
    geom = k.Geometry(3, 2, 1, 1, 1, 0)
    ref = conv_shifted.conv2d_shifted(x, w, geom)
    monkeypatch.setattr(conv_shifted, "CHUNK_BYTES", chunk_bytes)
    np.testing.assert_allclose(conv_shifted.conv2d_shifted(x, w, geom), ref, rtol=1e-12, atol=1e-12)
