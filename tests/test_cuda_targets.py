"""The CUDA target kernels against the CPU on adversarial inputs, and what only a GPU has:
misaligned views, side streams, a second device, no host syncs. Skipped without a GPU.

CPU and CUDA share the formulas, not the instructions (see cuda_parity.py): values agree to
~1e-6 and a pixel at the cutoff radius may be 0 on one side only.
"""
import math

import pytest
import torch

import awing_ext
from cuda_parity import assert_decodes_agree, assert_renders_agree, requires_cuda, requires_two_gpus
from heatmaps import gaussian_heatmaps

pytestmark = requires_cuda

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def faces(n, seed=0, k=68, size=64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, 2, generator=g, dtype=torch.float64) * (size - 1)


# ------------------------------------------------------------------------------ rendering

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


@pytest.mark.parametrize("method", ["dark", "quarter"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_decode_adversarial_planes(method, dtype):
    assert_decodes_agree(adversarial_planes().to(dtype), method)


@pytest.mark.parametrize("method", ["dark", "quarter"])
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
def test_misaligned_heatmaps_decode_and_weight_map(k):
    hm = gaussian_heatmaps(2, 5, 20, 24, seed=2, device="cuda")
    n = hm.numel()
    base = torch.zeros(n + 4, device="cuda")
    view = base[k:k + n].view(hm.shape)
    view.copy_(hm)
    for method in ("dark", "quarter"):
        a, b = awing_ext.decode_heatmaps(view, method), awing_ext.decode_heatmaps(hm, method)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(awing_ext.weight_map(view), awing_ext.weight_map(hm))


def test_ops_on_a_side_stream():
    lm = faces(4, seed=1).float().cuda()
    expected = (awing_ext.render_heatmaps(lm, 64), awing_ext.render_boundaries(lm, "68", 64))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        got = (awing_ext.render_heatmaps(lm, 64), awing_ext.render_boundaries(lm, "68", 64))
        mask = awing_ext.weight_map(got[0])
        decoded = awing_ext.decode_heatmaps(got[0])
    side.synchronize()
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert torch.equal(mask, awing_ext.weight_map(expected[0]))
    assert torch.equal(decoded[0], awing_ext.decode_heatmaps(expected[0])[0])


@requires_two_gpus
def test_target_ops_on_a_second_device():
    lm = faces(3, seed=2).float()
    with torch.cuda.device(0):
        lm1 = lm.cuda(1)
        hm = awing_ext.render_heatmaps(lm1, 64)
        bd = awing_ext.render_boundaries(lm1, "68", 64)
        mask = awing_ext.weight_map(hm)
        xy, _ = awing_ext.decode_heatmaps(hm)
    for t in (hm, bd, mask, xy):
        assert t.device == torch.device("cuda", 1)
    assert torch.equal(hm.cpu(), awing_ext.render_heatmaps(lm.cuda(0), 64).cpu())
    assert torch.equal(bd.cpu(), awing_ext.render_boundaries(lm.cuda(0), "68", 64).cpu())


def test_training_targets_and_loss_do_not_sync_the_host():
    """After a warm-up call (which copies the boundary span table once), building the targets of
    a training step and its loss forward/backward never wait for the GPU."""
    from training.engine import TargetSpec, make_targets
    spec = TargetSpec(256, 64, 1.0, "68")
    lm = (faces(8, seed=9, size=256)).float().cuda()
    visible = torch.rand(8, 68, device="cuda") > 0.1
    pred = torch.rand(8, 69, 64, 64, device="cuda", requires_grad=True)
    target, weight = make_targets(lm, visible, spec)
    awing_ext.adaptive_wing_loss(pred, target, weight).backward()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        target, weight = make_targets(lm, visible, spec)
        awing_ext.render_boundaries(lm / 4, "68", 64, per_curve=True)
        awing_ext.weight_map(target)
        awing_ext.adaptive_wing_loss(pred, target, weight).backward()
        awing_ext.decode_heatmaps(target)
    finally:
        torch.cuda.set_sync_debug_mode("default")
