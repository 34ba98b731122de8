"""HeatmapCodec.decode's methods: integral (soft-argmax) against a hand-computed plane and a
pure-PyTorch softmax expectation, its error on rendered Gaussian targets (the numbers behind
decode_beta's default, training/data/codec.py), scores shared by every method, bad names and betas."""
import math

import pytest
import torch

import awing_ext
from training.data.codec import DECODE_METHODS, DEFAULT_DECODE_BETA, HeatmapCodec

from helpers.heatmaps import softmax_expectation


def rendered_targets(size: int, n: int = 300, seed: int = 0, margin: int = 4):
    """Random sub-pixel centres at least `margin` px from the border and their sigma-1 targets."""
    g = torch.Generator().manual_seed(seed)
    points = margin + torch.rand(n, 1, 2, generator=g) * (size - 1 - 2 * margin)
    return points, awing_ext.render_heatmaps(points, size, 1.0)


def test_integral_hand_computed_plane():
    """2 x 2 plane [[0, ln 3], [0, 0]], beta 1: weights (1, 3, 1, 1) / 6, so x = 4/6, y = 2/6 heatmap
    px; a codec of 8 px crops on 2 px heatmaps maps them to (x + 0.5) * 4 - 0.5."""
    heat = torch.tensor([[[[0.0, math.log(3.0)], [0.0, 0.0]]]])
    codec = HeatmapCodec(8, 2, boundary_scheme=None, decode_method="integral", decode_beta=1.0)
    coords, scores = codec.decode(heat, 1)
    torch.testing.assert_close(coords, torch.tensor([[[25 / 6, 17 / 6]]]))
    torch.testing.assert_close(scores, torch.tensor([[math.log(3.0)]]))


@pytest.mark.parametrize("beta", [1.0, 7.5, DEFAULT_DECODE_BETA, 200.0])
def test_integral_matches_the_softmax_expectation(beta):
    g = torch.Generator().manual_seed(1)
    heat = torch.randn(3, 5, 16, 16, generator=g) * 0.3 + torch.rand(3, 5, 1, 1, generator=g)
    codec = HeatmapCodec(64, 16, boundary_scheme=None, decode_method="integral", decode_beta=beta)
    coords, _ = codec.decode(torch.cat([heat, torch.zeros(3, 1, 16, 16)], dim=1), 5)   # + a boundary channel
    expected = codec.heatmap_to_crop(softmax_expectation(heat, beta)).float()
    torch.testing.assert_close(coords, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_integral_recovers_sub_pixel_centres_at_the_default_beta(size):
    """Measured (seed 0, 300 points): mean 0.29-0.30 px, max 0.47 px on 16, 32 and 64 px planes."""
    points, heat = rendered_targets(size)
    err = (awing_ext.soft_argmax(heat, DEFAULT_DECODE_BETA) - points).norm(dim=-1)
    assert err.mean() < 0.32 and err.max() < 0.5
    torch.testing.assert_close(softmax_expectation(heat, DEFAULT_DECODE_BETA).float(),
                               awing_ext.soft_argmax(heat, DEFAULT_DECODE_BETA), atol=1e-4, rtol=0)


def test_integral_default_beta_holds_for_weaker_peaks_where_smaller_betas_drift():
    """A 0.5 peak on 64 px: beta 30 stays within 0.22 px mean (0.40 max); beta 20 drifts > 4 px
    towards the centre, as does beta 10 with a full peak (4.5 px mean)."""
    points, heat = rendered_targets(64)
    def mean_error(h, beta):
        return (awing_ext.soft_argmax(h, beta) - points).norm(dim=-1).mean().item()
    assert mean_error(0.5 * heat, DEFAULT_DECODE_BETA) < 0.25
    assert mean_error(0.5 * heat, 20.0) > 2.0
    assert mean_error(heat, 10.0) > 2.0


def test_larger_beta_moves_integral_towards_the_argmax_pixel():
    points, heat = rendered_targets(32)
    to_pixel = [(awing_ext.soft_argmax(heat, b) - points.round()).norm(dim=-1).mean().item()
                for b in (DEFAULT_DECODE_BETA, 200.0, 2000.0)]
    assert to_pixel[0] > to_pixel[1] > to_pixel[2]
    assert to_pixel[2] < 0.05


def test_every_method_scores_the_plane_maximum():
    g = torch.Generator().manual_seed(2)
    heat = torch.rand(2, 4, 16, 16, generator=g)
    peaks = heat.amax(dim=(-2, -1))
    for method in DECODE_METHODS:
        _, scores = HeatmapCodec(64, 16, boundary_scheme=None, decode_method=method).decode(heat, 4)
        torch.testing.assert_close(scores, peaks, atol=0, rtol=0)


def test_default_codec_decodes_as_dark():
    points, heat = rendered_targets(16, n=20)
    codec = HeatmapCodec(64, 16, boundary_scheme=None)
    assert (codec.decode_method, codec.decode_beta) == ("dark", DEFAULT_DECODE_BETA)
    coords, scores = codec.decode(heat, 1)
    dark, dark_scores = awing_ext.decode_heatmaps(heat, "dark")
    torch.testing.assert_close(coords, codec.heatmap_to_crop(dark), atol=0, rtol=0)
    torch.testing.assert_close(scores, dark_scores, atol=0, rtol=0)
    torch.testing.assert_close(coords, codec.heatmap_to_crop(points), atol=1e-4, rtol=0)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"decode_method must be one of dark, quarter, integral, got 'soft'"):
        HeatmapCodec(64, 16, decode_method="soft")


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), float("inf"), True, "30"])
def test_bad_beta_is_refused(beta):
    with pytest.raises(ValueError, match=r"decode_beta must be a finite number > 0"):
        HeatmapCodec(64, 16, decode_method="integral", decode_beta=beta)
