"""Bad inputs to the target ops give clear errors naming the argument."""
import pytest
import torch

import awing_ext

LM = torch.rand(2, 68, 2) * 60


def test_render_heatmaps_errors(device):
    lm = LM.to(device)
    with pytest.raises(RuntimeError, match=r"landmarks must be 3-D \(N, K, 2\)"):
        awing_ext.render_heatmaps(lm[0], 64, 1.0)
    with pytest.raises(RuntimeError, match=r"landmarks must be 3-D \(N, K, 2\)"):
        awing_ext.render_heatmaps(torch.zeros(2, 68, 3, device=device), 64, 1.0)
    with pytest.raises(RuntimeError, match="landmarks must be float32"):
        awing_ext.render_heatmaps(lm.long(), 64, 1.0)
    with pytest.raises(RuntimeError, match="sigma must be a finite number > 0"):
        awing_ext.render_heatmaps(lm, 64, -1.0)
    with pytest.raises(RuntimeError, match="sigma must be a finite number > 0"):
        awing_ext.render_heatmaps(lm, 64, 0.0)
    with pytest.raises(RuntimeError, match=r"size must be positive \(H, W\), got \(0, 64\)"):
        awing_ext.render_heatmaps(lm, (0, 64), 1.0)
    with pytest.raises(RuntimeError, match="truncate must be"):
        awing_ext.render_heatmaps(lm, 64, 1.0, truncate=0)
    with pytest.raises(RuntimeError, match=r"visible must have shape \(N, K\)"):
        awing_ext.render_heatmaps(lm, 64, 1.0, visible=torch.ones(2, 67, device=device))
    with pytest.raises(RuntimeError, match="dtype must be float32"):
        awing_ext.render_heatmaps(lm, 64, 1.0, dtype=torch.int32)
    with pytest.raises(ValueError, match=r"size must be an int or \(H, W\)"):
        awing_ext.render_heatmaps(lm, (1, 2, 3), 1.0)


def test_render_boundaries_errors(device):
    lm = LM.to(device)
    with pytest.raises(RuntimeError, match="curve index 68 is out of range for 68 landmarks"):
        awing_ext.render_boundaries(lm, [[0, 68]], 64)
    with pytest.raises(RuntimeError, match="curve index -1 is out of range"):
        awing_ext.render_boundaries(lm, [[0, 1], [-1, 3]], 64)
    with pytest.raises(RuntimeError, match="curve 1 must have at least 2 points, got 1"):
        awing_ext.render_boundaries(lm, [[0, 1], [3]], 64)
    with pytest.raises(RuntimeError, match="at least one curve"):
        awing_ext.render_boundaries(lm, [], 64)
    with pytest.raises(RuntimeError, match="sigma must be a finite number > 0"):
        awing_ext.render_boundaries(lm, "68", 64, sigma=-0.5)
    with pytest.raises(RuntimeError, match=r"size must be positive \(H, W\)"):
        awing_ext.render_boundaries(lm, "68", (64, 0))
    with pytest.raises(RuntimeError, match=r"samples \(line segments per spline span\) must be in"):
        awing_ext.render_boundaries(lm, "68", 64, samples=0)
    with pytest.raises(ValueError, match="scheme '98' has 98 points, landmarks have 68"):
        awing_ext.render_boundaries(lm, "wflw", 64)
    with pytest.raises(ValueError, match="unknown landmark scheme"):
        awing_ext.render_boundaries(lm, "helen", 64)
    with pytest.raises(ValueError, match="landmarks must be a 3-D"):
        awing_ext.render_boundaries(lm[0], "68", 64)
    with pytest.raises(RuntimeError, match=r"landmarks must be 3-D \(N, K, 2\)"):
        torch.ops.awing_ext.render_boundaries(lm[..., :1], [0, 1], [2], 8, 8, 1.0, 3.0, 8, False, None)
    with pytest.raises(RuntimeError, match="curve_lengths sum to 3 but curve_points has 2 entries"):
        torch.ops.awing_ext.render_boundaries(lm, [0, 1], [3], 8, 8, 1.0, 3.0, 8, False, None)


def test_weight_map_errors(device):
    t = torch.rand(2, 3, 8, 8, device=device)
    with pytest.raises(RuntimeError, match=r"target must be 4-D \(N, C, H, W\)"):
        awing_ext.weight_map(t[0])
    with pytest.raises(RuntimeError, match="kernel_size must be a positive odd integer <= 31, got 2"):
        awing_ext.weight_map(t, kernel_size=2)
    with pytest.raises(RuntimeError, match="kernel_size must be a positive odd integer <= 31, got -1"):
        awing_ext.weight_map(t, kernel_size=-1)
    with pytest.raises(RuntimeError, match="target must be float32"):
        awing_ext.weight_map(t.long())


def test_decode_errors(device):
    h = torch.rand(2, 3, 8, 8, device=device)
    with pytest.raises(RuntimeError, match=r"heatmaps must be 4-D \(N, C, H, W\)"):
        awing_ext.decode_heatmaps(h[0])
    with pytest.raises(ValueError, match="method must be one of"):
        awing_ext.decode_heatmaps(h, "soft-argmax")
    with pytest.raises(RuntimeError, match="method must be 'dark' or 'quarter'"):
        torch.ops.awing_ext.decode_heatmaps(h, "soft-argmax")
    with pytest.raises(RuntimeError, match="heatmaps must have H, W > 0"):
        awing_ext.decode_heatmaps(torch.zeros(1, 2, 0, 4, device=device))
    with pytest.raises(RuntimeError, match="heatmaps must be float32"):
        awing_ext.decode_heatmaps(h.int())
