"""render_boundaries on CUDA against the CPU with NaN/inf/far points, every scheme, per_curve
on and off, custom curves and odd sizes (skipped without a GPU)."""
import math

import pytest
import torch

import awing_ext
from helpers.cuda_parity import assert_renders_agree, requires_cuda

pytestmark = requires_cuda

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def faces(n, seed=0, k=68, size=64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, 2, generator=g, dtype=torch.float64) * (size - 1)


# ------------------------------------------------------------------------------ rendering


@pytest.mark.parametrize("per_curve", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_boundaries_against_cpu_with_bad_points(per_curve, dtype):
    pts = faces(6, seed=3)
    pts[1, 5] = math.nan
    pts[2, 10] = math.inf
    pts[3, 20] = torch.tensor([1e30, -1e30])
    pts[4, :17] = -1e30
    pts[5] = pts[5] * 0 + 31.5  # every point equal: zero-length spans
    for scheme_pts, scheme in ((pts, "68"), (faces(3, seed=4, k=98), "98"), (faces(3, seed=5, k=29), "29")):
        cpu = awing_ext.render_boundaries(scheme_pts, scheme, 64, 1.0, per_curve=per_curve, dtype=dtype)
        gpu = awing_ext.render_boundaries(scheme_pts.cuda(), scheme, 64, 1.0, per_curve=per_curve, dtype=dtype)
        assert_renders_agree(cpu, gpu, rtol=1e-5 if dtype in (torch.float32, torch.float64) else 1e-2)


def test_boundaries_custom_curves_and_odd_sizes():
    pts = faces(4, seed=6, k=12, size=37)
    curves = [[0, 1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11], [11, 0]]
    for size in ((37, 23), (1, 1), (5, 64)):
        cpu = awing_ext.render_boundaries(pts, curves, size, 1.3, per_curve=True, samples=3)
        gpu = awing_ext.render_boundaries(pts.cuda(), curves, size, 1.3, per_curve=True, samples=3)
        assert_renders_agree(cpu, gpu)


# -------------------------------------------------------------------------------- decoding
