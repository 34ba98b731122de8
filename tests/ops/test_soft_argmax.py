"""soft_argmax (integral regression) against a plain-torch softmax expectation, its gradient
(gradcheck, and the reference's autograd), stability for large beta, NaN planes, opcheck and
torch.compile."""
import math

import pytest
import torch

import awing_ext
from helpers.heatmaps import gaussian_heatmaps

OP = torch.ops.awing_ext.soft_argmax.default


def reference(heatmaps: torch.Tensor, beta: float) -> torch.Tensor:
    """The expectation of (x, y) = (column, row) under softmax(beta * h) per plane, in float64."""
    n, k, h, w = heatmaps.shape
    p = torch.softmax(beta * heatmaps.double().reshape(n, k, h * w), dim=-1).reshape(n, k, h, w)
    xs = torch.arange(w, dtype=torch.float64, device=heatmaps.device)
    ys = torch.arange(h, dtype=torch.float64, device=heatmaps.device)
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)


@pytest.mark.parametrize("shape", [(2, 5, 16, 16), (1, 3, 7, 13), (2, 1, 1, 1), (1, 2, 1, 9), (3, 4, 64, 48)], ids=str)
@pytest.mark.parametrize("beta", [0.5, 1.0, 30.0])
def test_matches_the_softmax_expectation(device, shape, beta):
    hm = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
    got = awing_ext.soft_argmax(hm, beta)
    assert got.shape == (shape[0], shape[1], 2) and got.dtype == torch.float32
    torch.testing.assert_close(got.double(), reference(hm, beta), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(awing_ext.soft_argmax(hm.double(), beta), reference(hm.double(), beta),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_inputs(device, dtype):
    hm = gaussian_heatmaps(2, 3, 16, 16).to(device=device, dtype=dtype)
    got = awing_ext.soft_argmax(hm, 20.0)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), reference(hm.float(), 20.0), rtol=1e-5, atol=1e-4)


def test_a_sharp_softmax_finds_the_gaussian_peak(device):
    """Rendered Gaussians at sub-pixel centres: with beta large the expectation is the argmax
    pixel; with a moderate beta it is close to the true centre (the Gaussian is symmetric)."""
    centres = torch.tensor([[[10.3, 20.6], [31.4, 4.2]]], dtype=torch.float64)
    hm = awing_ext.render_heatmaps(centres.to(device), 40, sigma=2.0, dtype=torch.float64)
    sharp = awing_ext.soft_argmax(hm, 1e6).cpu()
    assert torch.equal(sharp, centres.round())
    soft = awing_ext.soft_argmax(hm, 25.0).cpu()
    assert (soft - centres).abs().max() < 0.15


def test_large_beta_is_stable(device):
    hm = torch.full((1, 1, 5, 5), -1e30, device=device)
    hm[0, 0, 3, 1] = 1e30
    got = awing_ext.soft_argmax(hm, 1e30).cpu()   # exponents of +-inf without the max subtracted
    assert torch.equal(got, torch.tensor([[[1.0, 3.0]]]))
    ties = torch.zeros(1, 1, 3, 5, device=device)
    assert torch.equal(awing_ext.soft_argmax(ties, 1e6).cpu(), torch.tensor([[[2.0, 1.0]]]))  # the centre


def test_nan_inf_planes(device):
    """NaN or +inf in a plane, or only -inf: NaN coordinates (documented); -inf gets weight 0;
    the other planes are unaffected."""
    hm = torch.rand(1, 4, 3, 3, device=device)
    hm[0, 0, 1, 1] = math.nan
    hm[0, 1, 0, 0] = math.inf
    hm[0, 2] = -math.inf
    hm[0, 3, :, :2] = -math.inf
    got = awing_ext.soft_argmax(hm).cpu()
    assert got[0, :3].isnan().all()
    assert got[0, 3, 0] == 2.0 and not got[0, 3].isnan().any()


def test_gradcheck(device):
    hm = torch.randn(2, 3, 5, 6, dtype=torch.float64, device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h: awing_ext.soft_argmax(h, 1.7), (hm,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_gradient_matches_the_reference_autograd(device, dtype):
    hm = torch.randn(2, 3, 9, 11, device=device).to(dtype).requires_grad_(True)
    weights = torch.randn(2, 3, 2, device=device)
    (awing_ext.soft_argmax(hm, 2.0) * weights).sum().backward()
    ref = hm.detach().float().requires_grad_(True)
    (reference(ref, 2.0) * weights.double()).sum().backward()
    assert hm.grad.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-2, atol=2e-3)
    torch.testing.assert_close(hm.grad.float(), ref.grad.float(), **tol)


def test_deterministic(device):
    hm = torch.randn(4, 98, 64, 64, device=device, requires_grad=True)
    a = awing_ext.soft_argmax(hm, 5.0)
    (ga,) = torch.autograd.grad(a.sum(), hm)
    b = awing_ext.soft_argmax(hm.detach().clone().requires_grad_(True), 5.0)
    assert torch.equal(a, b)
    (gb,) = torch.autograd.grad(awing_ext.soft_argmax(hm, 5.0).sum(), hm)
    assert torch.equal(ga, gb)


def test_opcheck(device):
    hm = torch.randn(2, 3, 6, 7, device=device, requires_grad=True)
    torch.library.opcheck(OP, (hm, 1.5))
    torch.library.opcheck(OP, (hm.detach().double().requires_grad_(True), 0.7))


def test_compiles_with_fullgraph(device):
    hm = torch.randn(2, 3, 6, 7, device=device)
    compiled = torch.compile(lambda h: awing_ext.soft_argmax(h, 3.0).square().sum(), fullgraph=True, backend="eager")
    assert torch.equal(compiled(hm), awing_ext.soft_argmax(hm, 3.0).square().sum())


def test_empty_batch(device):
    assert awing_ext.soft_argmax(torch.zeros(0, 3, 4, 4, device=device)).shape == (0, 3, 2)
