"""decode_heatmaps on CUDA against the CPU on adversarial planes (ties in and across warp lanes,
NaN/-inf, plateaus, near-singular Hessians) and misaligned views (skipped without a GPU)."""
import math

import pytest
import torch

import awing_ext
from helpers.cuda_parity import assert_decodes_agree, requires_cuda
from helpers.heatmaps import gaussian_heatmaps

pytestmark = requires_cuda

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _plane(h=17, w=45, fill=0.0):
    return torch.full((h, w), fill, dtype=torch.float32)


def adversarial_planes():
    planes = []
    for gap in (1, 31, 32, 33, 64, 96):   # ties in the same lane (multiples of 32) and across lanes
        p = _plane()
        p.view(-1)[100] = 1.0
        p.view(-1)[100 + gap] = 1.0
        planes.append(p)
    p = _plane(fill=math.nan)                  # all NaN
    planes.append(p)
    planes.append(_plane(fill=-math.inf))      # all -inf
    p = _plane(fill=-math.inf)                 # NaN and -inf with one finite value
    p.view(-1)[::3] = math.nan
    p[9, 20] = -5.0
    planes.append(p)
    p = _plane(fill=0.5)                       # a plateau everywhere
    planes.append(p)
    p = _plane()                               # a plateau region
    p[5:9, 10:20] = 0.7
    planes.append(p)
    p = _plane(fill=math.nan)                  # NaN around a single peak
    p[8, 8] = 1.0
    planes.append(p)
    ys, xs = torch.meshgrid(torch.arange(17.0), torch.arange(45.0), indexing="ij")
    for sx, sy in ((1e3, 1.0), (1.0, 1e4), (50.0, 50.0), (1.0, 1.0)):   # ridges: det near 0
        planes.append(torch.exp(-((xs - 22.3) ** 2) / (2 * sx) - ((ys - 8.6) ** 2) / (2 * sy)))
    for rho in (0.999, 0.9999999):             # correlated Gaussians: near-singular Hessian
        dx, dy = xs - 22.4, ys - 8.3
        q = (dx * dx - 2 * rho * dx * dy + dy * dy) / (1 - rho * rho)
        planes.append(torch.exp(-q / 8))
    p = _plane(fill=1e-30)                     # tiny positive values (log of denormal range)
    p[8, 22] = 2e-30
    planes.append(p)
    return torch.stack(planes)[None]


@pytest.mark.parametrize("method", ["taylor", "quarter"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_decode_adversarial_planes(method, dtype):
    assert_decodes_agree(adversarial_planes().to(dtype), method)


@pytest.mark.parametrize("method", ["taylor", "quarter"])
def test_decode_random_gaussians_and_noise(method):
    hm = gaussian_heatmaps(8, 69, 64, 64, sigma=1.7, seed=11)
    hm = hm + 1e-3 * torch.rand_like(hm)
    assert_decodes_agree(hm, method)
    assert_decodes_agree(hm[..., :33, :1], method)   # one-pixel-wide maps
    assert_decodes_agree(hm[..., :1, :1], method)


def test_decode_ties_pick_the_first_maximum():
    """Two equal maxima at flat indices 100 and 100 + gap: the first wins (pixel row 2, col 10);
    only the gap-1 partner is a neighbour, which moves x by +0.25."""
    hm = adversarial_planes()[:, :6]
    xy, scores = awing_ext.decode_heatmaps(hm.cuda(), "quarter")
    expected = torch.tensor([[10.25, 2.0]] + [[10.0, 2.0]] * 5)
    assert torch.equal(xy[0].cpu(), expected)
    assert torch.equal(scores.cpu(), torch.ones(1, 6))


# ------------------------------------------------------------------- devices, streams, views


@pytest.mark.parametrize("k", [1, 2, 3])
def test_misaligned_heatmaps_decode_and_loss_map_mask(k):
    hm = gaussian_heatmaps(2, 5, 20, 24, seed=2, device="cuda")
    n = hm.numel()
    base = torch.zeros(n + 4, device="cuda")
    view = base[k:k + n].view(hm.shape)
    view.copy_(hm)
    for method in ("taylor", "quarter"):
        a, b = awing_ext.decode_heatmaps(view, method), awing_ext.decode_heatmaps(hm, method)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(awing_ext.loss_map_mask(view), awing_ext.loss_map_mask(hm))
