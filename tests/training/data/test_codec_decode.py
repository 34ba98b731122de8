"""HeatmapCodec.decode: every method is awing_ext.decode_heatmaps' with the codec's sigma, mapped
to crop pixels; focal models' logits are decoded through their sigmoid; scores shared by every
method; the low-confidence flag; bad names and sigmas."""
import math

import pytest
import torch

import awing_ext
from training.core.codec import DECODE_METHODS, LOW_CONFIDENCE_THRESHOLD, HeatmapCodec, low_confidence


def rendered_targets(size: int, n: int = 50, seed: int = 0, margin: int = 5, sigma: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    points = margin + torch.rand(n, 1, 2, generator=g) * (size - 1 - 2 * margin)
    return points, awing_ext.render_heatmaps(points, size, sigma)


def test_methods_are_the_ops():
    assert DECODE_METHODS == ("dark", "taylor", "quarter", "integral")


@pytest.mark.parametrize("method", ["dark", "taylor", "quarter", "integral"])
@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_decode_is_the_op_with_the_codecs_sigma(method, sigma):
    points, heat = rendered_targets(32, sigma=sigma)
    codec = HeatmapCodec(128, 32, sigma, boundary_scheme=None, decode_method=method)
    coords, scores = codec.decode(torch.cat([heat, torch.zeros_like(heat)], dim=1), 1)   # + a boundary channel
    want, want_scores = awing_ext.decode_heatmaps(heat, method, sigma=sigma)
    torch.testing.assert_close(coords, codec.heatmap_to_crop(want), atol=0, rtol=0)
    torch.testing.assert_close(scores, want_scores, atol=0, rtol=0)
    if method != "quarter":   # the exact decoders find the rendered points
        torch.testing.assert_close(coords, codec.heatmap_to_crop(points), atol=0.1, rtol=0)


def test_focal_logits_decode_through_their_sigmoid():
    points, heat = rendered_targets(32)
    probabilities = heat.clamp(1e-4, 1 - 1e-4)
    for method in DECODE_METHODS:
        codec = HeatmapCodec(128, 32, boundary_scheme=None, decode_method=method, logits=True)
        coords, scores = codec.decode(torch.logit(probabilities), 1)
        want, want_scores = awing_ext.decode_heatmaps(probabilities, method)
        torch.testing.assert_close(coords, codec.heatmap_to_crop(want), atol=1e-4, rtol=0)
        torch.testing.assert_close(scores, want_scores, atol=1e-5, rtol=0)


def test_default_codec_decodes_as_dark():
    assert HeatmapCodec(64, 16, boundary_scheme=None).decode_method == "dark"


def test_low_confidence_flags_flat_planes():
    """An all-zero plane (a model that left a point flat) is flagged; a rendered target (peak
    >= 0.78 at sigma 1) is not; the threshold is the loss map's 0.2; NaN is flagged."""
    _, heat = rendered_targets(16, n=3)
    planes = torch.cat([heat.reshape(1, 3, 16, 16), torch.zeros(1, 1, 16, 16),
                        torch.full((1, 1, 16, 16), 0.19), torch.full((1, 1, 16, 16), math.nan)], dim=1)
    _, scores = HeatmapCodec(64, 16, boundary_scheme=None).decode(planes, 6)
    assert LOW_CONFIDENCE_THRESHOLD == 0.2
    assert low_confidence(scores).tolist() == [[False, False, False, True, True, True]]


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"decode_method must be one of dark, taylor, quarter, integral, got 'soft'"):
        HeatmapCodec(64, 16, decode_method="soft")


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_sigma_is_refused(sigma):
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0"):
        HeatmapCodec(64, 16, sigma, decode_method="integral")
