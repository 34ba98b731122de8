"""awing_ext.decode_heatmaps, the one entry point for every decoder: DARK (modulation + Taylor)
against an independent float64 numpy DARK (helpers.decoders), integral as integral_coords with a
gradient, the modulation's effect on noisy targets, shared scores, flat / constant / NaN planes
for every method, torch.compile and bad arguments."""
import math

import pytest
import torch

import awing_ext
from helpers import decoders
from helpers.heatmaps import gaussian_heatmaps

METHODS = awing_ext.DECODE_METHODS


def noisy_targets(n=300, size=64, noise=0.03, peak=1.0, seed=0, margin=6):
    g = torch.Generator().manual_seed(seed)
    points = margin + torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * (size - 1 - 2 * margin)
    heat = peak * awing_ext.render_heatmaps(points, size, 1.0, dtype=torch.float64)
    return points, heat + noise * torch.randn(heat.shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_dark_matches_the_numpy_dark(device, sigma):
    _, heat = noisy_targets(n=40, size=32, noise=0.02, seed=int(10 * sigma))
    heat = torch.cat([heat, 0.5 * gaussian_heatmaps(40, 2, 32, 32, sigma=sigma, seed=3, dtype=torch.float64)], 1)
    want_c, want_s = decoders.dark(heat.numpy(), sigma)
    got_c, got_s = awing_ext.decode_heatmaps(heat.to(device), "dark", sigma=sigma)
    torch.testing.assert_close(got_c.cpu(), torch.from_numpy(want_c), rtol=0, atol=1e-9)
    torch.testing.assert_close(got_s.cpu(), torch.from_numpy(want_s), rtol=0, atol=0)
    got32, _ = awing_ext.decode_heatmaps(heat.float().to(device), "dark", sigma=sigma)
    assert got32.dtype == torch.float32
    torch.testing.assert_close(got32.cpu().double(), torch.from_numpy(want_c), rtol=0, atol=2e-4)


def test_modulation_helps_on_noisy_targets():
    """The reason DARK smooths first: with N(0, 0.03) noise on sigma-1 targets the Taylor step
    alone is off by 0.05 px on average, DARK by less (measured: table in docs/evaluation.md)."""
    points, heat = noisy_targets()
    err = {m: (awing_ext.decode_heatmaps(heat.float(), m)[0].double() - points).norm(dim=-1).mean().item()
           for m in METHODS}
    assert err["dark"] < 0.8 * err["taylor"] < err["quarter"]
    assert err["integral"] < 0.1


def test_clean_targets_decode_exactly_with_dark_taylor_and_integral():
    points, heat = noisy_targets(noise=0.0)
    for method, bound in (("dark", 0.01), ("taylor", 1e-4), ("integral", 0.02), ("quarter", 0.5)):
        err = (awing_ext.decode_heatmaps(heat.float(), method)[0].double() - points).norm(dim=-1)
        assert err.max() < bound, (method, float(err.max()))


def test_integral_is_integral_coords_and_differentiable(device):
    heat = gaussian_heatmaps(2, 5, 16, 16, sigma=1.5, device=device).requires_grad_(True)
    coords, scores = awing_ext.decode_heatmaps(heat, "integral", sigma=1.5)
    assert torch.equal(coords, awing_ext.integral_coords(heat, awing_ext.integral_radius(1.5)))
    assert coords.requires_grad and not scores.requires_grad
    (grad,) = torch.autograd.grad(coords.sum(), heat)
    assert grad.abs().sum() > 0
    for method in ("dark", "taylor", "quarter"):
        assert not awing_ext.decode_heatmaps(heat, method)[0].requires_grad


def test_every_method_scores_the_first_maximum(device):
    heat = torch.rand(2, 4, 16, 16, generator=torch.Generator().manual_seed(2)).to(device)
    peaks = heat.amax(dim=(-2, -1))
    for method in METHODS:
        torch.testing.assert_close(awing_ext.decode_heatmaps(heat, method)[1], peaks, atol=0, rtol=0)


def test_zero_constant_and_nan_planes(device):
    """Documented results, per method: zero -> (0, 0), score 0 (low confidence); constant c ->
    (0, 0) for quarter/taylor, within a pixel of the centre for dark (its zero-padded smoothing
    is flat in the middle and falls off at the border: 3.5, 3.5 on 9 x 9), the
    clipped window's centroid (1.5, 1.5) for integral, score c; all-NaN -> (0, 0) and a NaN
    score (integral: NaN coordinates); nothing raises."""
    heat = torch.zeros(1, 3, 9, 9, device=device)
    heat[0, 1] = 0.4
    heat[0, 2] = math.nan
    expected = {"quarter": [[0, 0], [0, 0], [0, 0]], "taylor": [[0, 0], [0, 0], [0, 0]],
                "dark": [[0, 0], [3.5, 3.5], [0, 0]], "integral": [[0, 0], [1.5, 1.5], None]}
    for method in METHODS:
        coords, scores = awing_ext.decode_heatmaps(heat, method)
        coords, scores = coords.cpu(), scores.cpu()
        assert scores[0, 0] == 0 and torch.isclose(scores[0, 1], torch.tensor(0.4)) and scores[0, 2].isnan()
        for k, want in enumerate(expected[method]):
            if want is None:
                assert coords[0, k].isnan().all(), method
            else:
                torch.testing.assert_close(coords[0, k], torch.tensor(want, dtype=torch.float32), atol=1e-5,
                                           rtol=0, msg=f"{method} plane {k}")


def test_a_nan_pixel_beside_the_peak_does_not_derail_dark(device):
    """DARK counts NaN as 0 before smoothing (a NaN would otherwise spread over the kernel)."""
    points = torch.tensor([[[10.3, 12.6]]], dtype=torch.float64)
    heat = awing_ext.render_heatmaps(points, 24, 1.0)
    heat[0, 0, 15, 15] = math.nan
    coords, _ = awing_ext.decode_heatmaps(heat.to(device), "dark")
    assert (coords.cpu().double() - points).norm() < 0.05


def test_dark_compiles_with_fullgraph(device):
    heat = gaussian_heatmaps(2, 5, 16, 16, seed=5, device=device)
    f = lambda h: awing_ext.decode_heatmaps(h, "dark", sigma=1.0)   # noqa: E731
    got = torch.compile(f, fullgraph=True, backend="eager")(heat)
    torch.testing.assert_close(got, f(heat), rtol=0, atol=0)


def test_empty_batches(device):
    for method in METHODS:
        coords, scores = awing_ext.decode_heatmaps(torch.zeros(0, 3, 8, 8, device=device), method)
        assert coords.shape == (0, 3, 2) and scores.shape == (0, 3)


@pytest.mark.parametrize("sigma", [0, -1.0, math.nan, math.inf, True, "1"])
def test_bad_sigma_is_refused(sigma):
    for method in ("dark", "integral"):
        with pytest.raises(RuntimeError, match="decode_heatmaps: sigma must be a finite number > 0"):
            awing_ext.decode_heatmaps(torch.rand(1, 1, 8, 8), method, sigma=sigma)


def test_modulate_heatmaps_keeps_the_maximum_and_floors():
    heat = gaussian_heatmaps(2, 3, 16, 16, sigma=1.0, seed=7) * 0.7
    mod = awing_ext.modulate_heatmaps(heat, 1.0)
    torch.testing.assert_close(mod.amax(dim=(-2, -1)), heat.amax(dim=(-2, -1)))
    assert mod.min() >= 1e-10
    assert awing_ext.modulate_heatmaps(heat.double(), 1.0).dtype == torch.float64
