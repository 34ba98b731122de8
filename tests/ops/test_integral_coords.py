"""integral_coords (integral regression that does not round) against an independent numpy loop
(helpers.decoders) and the pure-PyTorch reference, hand-checked planes, the accuracy on the
training targets that motivated it (issue: soft-argmax rounded), a zero coordinate loss at the
perfect target, edge planes, gradients (gradcheck, reference autograd), opcheck, torch.compile and
determinism."""
import math

import pytest
import torch

import awing_ext
from awing_ext.reference import integral_coords_reference
from helpers.decoders import windowed_expectation
from helpers.heatmaps import gaussian_heatmaps

OP = torch.ops.awing_ext.integral_coords.default


def rendered_targets(n: int = 400, size: int = 64, peak: float = 1.0, seed: int = 0, margin: int = 5):
    """Random sub-pixel centres >= `margin` px from the border and their sigma-1 training targets."""
    g = torch.Generator().manual_seed(seed)
    points = margin + torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * (size - 1 - 2 * margin)
    return points, peak * awing_ext.render_heatmaps(points, size, 1.0, dtype=torch.float64)


@pytest.mark.parametrize("shape", [(2, 5, 16, 16), (1, 3, 7, 13), (2, 1, 1, 1), (1, 2, 1, 9), (3, 4, 64, 48)], ids=str)
@pytest.mark.parametrize("radius", [0, 1, 3, 100])
def test_matches_the_numpy_loop(device, shape, radius):
    hm = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = torch.from_numpy(windowed_expectation(hm.numpy(), radius))
    got64 = awing_ext.integral_coords(hm.to(device), radius).cpu()
    torch.testing.assert_close(got64, expected, rtol=1e-12, atol=1e-12)
    got32 = awing_ext.integral_coords(hm.float().to(device), radius).cpu()
    assert got32.dtype == torch.float32 and got32.shape == (shape[0], shape[1], 2)
    torch.testing.assert_close(got32.double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(integral_coords_reference(hm, radius), expected, rtol=1e-12, atol=1e-12)


def test_hand_checked_plane(device):
    """Plane 0: argmax (row 1, col 1); radius 1 sees 1 (centre), 0.5 right, 0.25 below and -3
    above (relu: 0): S = 1.75, x = (1 + 0.5 * 2 + 0.25) / 1.75 = 9/7, y = (1 + 0.5 + 0.25 * 2) / 1.75
    = 8/7. Plane 1: argmax 9 at the corner (3, 3), window clipped to rows/cols 2..3 holding 3 at
    (2, 3): x = 3, y = (3 * 2 + 9 * 3) / 12; the 8 at (0, 0) is outside the window."""
    hm = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    hm[0, 0, 1, 1], hm[0, 0, 1, 2], hm[0, 0, 2, 1], hm[0, 0, 0, 1] = 1.0, 0.5, 0.25, -3.0
    hm[0, 1, 3, 3], hm[0, 1, 2, 3], hm[0, 1, 0, 0] = 9.0, 3.0, 8.0   # corner window clipped to 2 x 2
    got = awing_ext.integral_coords(hm.to(device), 1).cpu()
    torch.testing.assert_close(got[0, 0], torch.tensor([9 / 7, 8 / 7], dtype=torch.float64))
    torch.testing.assert_close(got[0, 1], torch.tensor([3.0, (2 * 3 + 3 * 9) / 12], dtype=torch.float64))


@pytest.mark.parametrize("peak", [1.0, 0.5, 0.3])
def test_exact_on_the_training_targets_whatever_the_peak(device, peak):
    """The issue's requirement: mean error <= 0.02 px on rendered sigma-1 Gaussians at random
    sub-pixel centres, peaks 1, 0.5 and 0.3 alike, away from the borders. Measured: 0.0050 px mean,
    0.0108 max for every peak (the truncation of the rendered tails at 3 sigma), against 0.30 px for
    soft-argmax at beta 30 (and 7 px at peak 0.3)."""
    points, heat = rendered_targets(peak=peak)
    err = (awing_ext.integral_coords(heat.float().to(device), awing_ext.integral_radius(1.0)).cpu().double()
           - points).norm(dim=-1)
    assert err.mean() <= 0.02 and err.max() < 0.02
    soft = (awing_ext.soft_argmax(heat.float(), 30.0).double() - points).norm(dim=-1)
    assert soft.mean() > 10 * err.mean()


def test_window_radius_follows_sigma():
    assert [awing_ext.integral_radius(s) for s in (0.2, 1.0, 1.5, 2.0, 2.1)] == [1, 3, 5, 6, 7]
    for bad in (0, -1.0, math.nan, math.inf, True):
        with pytest.raises(RuntimeError, match="sigma must be a finite number > 0"):
            awing_ext.integral_radius(bad)


def test_coordinate_loss_is_zero_at_the_perfect_target():
    """The integral term (L1 on the coordinates) at a perfect prediction: ~0 (0.0050 px mean
    distance, against soft-argmax's 0.155 px per coordinate), as the issue requires."""
    points, heat = rendered_targets(n=200)
    coords = awing_ext.integral_coords(heat.float(), 3).double()
    assert (coords - points).abs().mean() < 0.005


def test_edge_planes(device):
    """All-zero and all-negative planes: the argmax pixel (no positive mass) and a zero gradient;
    constant: the clipped window's centroid around pixel (0, 0); a NaN inside the window: NaN; a
    NaN elsewhere: ignored; all-NaN: NaN; +inf: NaN."""
    hm = torch.zeros(1, 7, 8, 8, device=device)
    hm[0, 1] = -1.0
    hm[0, 1, 5, 6] = -0.5                      # the maximum of a negative plane
    hm[0, 2] = 0.7                             # constant: argmax (0, 0), window rows/cols 0..3
    hm[0, 3, 4, 4], hm[0, 3, 5, 4] = 1.0, math.nan
    hm[0, 4, 1, 1], hm[0, 4, 7, 7] = 1.0, math.nan
    hm[0, 5] = math.nan
    hm[0, 6, 2, 2] = math.inf
    hm.requires_grad_(True)
    got = awing_ext.integral_coords(hm, 3)
    c = got.detach().cpu()
    assert c[0, 0].tolist() == [0.0, 0.0] and c[0, 1].tolist() == [6.0, 5.0]
    assert c[0, 2].tolist() == [1.5, 1.5]
    assert c[0, 3].isnan().all() and c[0, 4].tolist() == [1.0, 1.0]
    assert c[0, 5].isnan().all() and c[0, 6].isnan().all()
    (grad,) = torch.autograd.grad(got[0, :2].sum(), hm)
    assert torch.equal(grad[0, :2].cpu(), torch.zeros(2, 8, 8))


def test_gradcheck(device):
    hm = (gaussian_heatmaps(2, 3, 9, 10, sigma=1.2, dtype=torch.float64, device=device)
          + 0.05 * torch.randn(2, 3, 9, 10, dtype=torch.float64, device=device)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda h: awing_ext.integral_coords(h, 2), (hm,))
    assert torch.autograd.gradcheck(lambda h: awing_ext.integral_coords(h, 100), (hm,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_gradient_matches_the_reference_autograd(device, dtype):
    hm = (gaussian_heatmaps(2, 3, 16, 12, dtype=torch.float32, device=device)
          + 0.1 * torch.randn(2, 3, 16, 12, device=device)).to(dtype).requires_grad_(True)
    weights = torch.randn(2, 3, 2, device=device)
    (awing_ext.integral_coords(hm, 3) * weights).sum().backward()
    ref = hm.detach().float().requires_grad_(True)
    (integral_coords_reference(ref, 3) * weights.double()).sum().backward()
    assert hm.grad.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2e-2, atol=2e-3)
    torch.testing.assert_close(hm.grad.float(), ref.grad.float(), **tol)


def test_gradient_is_zero_outside_the_window(device):
    hm = gaussian_heatmaps(1, 1, 20, 20, device=device).requires_grad_(True)
    coords = awing_ext.integral_coords(hm, 2)
    (grad,) = torch.autograd.grad(coords.sum(), hm)
    row, col = divmod(int(hm.detach().flatten().argmax()), 20)
    outside = torch.ones(20, 20, dtype=torch.bool)
    outside[max(0, row - 2):row + 3, max(0, col - 2):col + 3] = False
    assert grad[0, 0].cpu()[outside].abs().max() == 0 and grad.abs().max() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_inputs(device, dtype):
    hm = gaussian_heatmaps(2, 3, 16, 16).to(device=device, dtype=dtype)
    got = awing_ext.integral_coords(hm, 3)
    assert got.dtype == torch.float32
    expected = torch.from_numpy(windowed_expectation(hm.float().cpu().numpy(), 3))
    torch.testing.assert_close(got.cpu().double(), expected, rtol=1e-5, atol=1e-4)


def test_deterministic_and_thread_independent():
    hm = torch.randn(4, 98, 64, 64, requires_grad=True)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = awing_ext.integral_coords(hm, 3)
        (ga,) = torch.autograd.grad(a.sum(), hm)
        torch.set_num_threads(max(2, threads))
        b = awing_ext.integral_coords(hm, 3)
        (gb,) = torch.autograd.grad(b.sum(), hm)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(a, b) and torch.equal(ga, gb)


def test_opcheck(device):
    hm = torch.randn(2, 3, 6, 7, device=device, requires_grad=True)
    torch.library.opcheck(OP, (hm, 2))
    torch.library.opcheck(OP, (hm.detach().double().requires_grad_(True), 1))


def test_compiles_with_fullgraph(device):
    hm = torch.randn(2, 3, 6, 7, device=device)
    compiled = torch.compile(lambda h: awing_ext.integral_coords(h, 2).square().sum(), fullgraph=True,
                             backend="eager")
    assert torch.equal(compiled(hm), awing_ext.integral_coords(hm, 2).square().sum())


def test_empty_batch(device):
    assert awing_ext.integral_coords(torch.zeros(0, 3, 4, 4, device=device)).shape == (0, 3, 2)


def test_radius_must_be_an_integer():
    with pytest.raises(TypeError, match="integral_coords: radius must be an integer, got 2.5"):
        awing_ext.integral_coords(torch.rand(1, 1, 4, 4), 2.5)


def test_matches_numpy_on_a_trained_looking_plane():
    """Second modes and negative background, as a trained network outputs."""
    g = torch.Generator().manual_seed(3)
    hm = 0.05 * torch.randn(3, 4, 32, 32, generator=g, dtype=torch.float64)
    hm += 0.8 * gaussian_heatmaps(3, 4, 32, 32, sigma=1.0, seed=4, dtype=torch.float64)
    hm += 0.3 * gaussian_heatmaps(3, 4, 32, 32, sigma=1.0, seed=5, dtype=torch.float64)
    torch.testing.assert_close(awing_ext.integral_coords(hm, 3), torch.from_numpy(windowed_expectation(hm.numpy(), 3)),
                               rtol=1e-12, atol=1e-12)
