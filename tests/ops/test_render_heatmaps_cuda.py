"""render_heatmaps on CUDA against the CPU at the cutoff radius and for extreme coordinates
(skipped without a GPU; see cuda_parity.py for how far the backends agree)."""
import math

import pytest
import torch

import awing_ext
from helpers.cuda_parity import assert_renders_agree, requires_cuda

pytestmark = requires_cuda

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def test_heatmaps_at_the_cutoff_radius():
    """Landmarks placed so that pixels sit at r^2 = cutoff^2 exactly and one float ulp either side."""
    base = torch.tensor([[10.0, 10.0], [20.0, 23.0], [30.5, 30.5]])
    offsets = torch.tensor([0.0, 1e-7, -1e-7, 3e-7, -3e-7])
    pts = torch.stack([base + torch.tensor([0.0, 3.0 + o]) for o in offsets]).reshape(1, -1, 2)
    for sigma in (1.0, 1.5, 2.0 / 3.0):
        pts_s = pts.clone()
        pts_s[..., 1] = 10 + (pts[..., 1] - 10) * sigma
        for dtype in DTYPES:
            cpu = awing_ext.render_heatmaps(pts_s, 48, sigma, dtype=dtype)
            gpu = awing_ext.render_heatmaps(pts_s.cuda(), 48, sigma, dtype=dtype)
            assert_renders_agree(cpu, gpu, rtol=1e-5 if dtype in (torch.float32, torch.float64) else 1e-2)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_heatmaps_extreme_coordinates(dtype):
    special = torch.tensor([1e30, -1e30, math.inf, -math.inf, math.nan, -0.0, 63.0, 64.49, -0.5, 1e-30])
    xs, ys = torch.meshgrid(special, special, indexing="ij")
    pts = torch.stack([xs.flatten(), ys.flatten()], -1)[None].to(dtype if dtype != torch.float16 else torch.float32)
    visible = torch.rand(pts.shape[:2]) > 0.2
    cpu = awing_ext.render_heatmaps(pts, 64, 1.0, visible=visible, dtype=dtype)
    gpu = awing_ext.render_heatmaps(pts.cuda(), 64, 1.0, visible=visible.cuda(), dtype=dtype)
    assert_renders_agree(cpu, gpu, rtol=1e-5 if dtype in (torch.float32, torch.float64) else 1e-2)
    assert torch.isfinite(gpu).all()
