"""render_boundaries against the brute-force reference; schemes; op registration."""
import pytest
import torch

import awing_ext
from awing_ext import SCHEMES, get_scheme
from awing_ext.reference import render_boundaries_reference
from helpers.cuda_parity import assert_renders_agree, requires_cuda

OP = torch.ops.awing_ext.render_boundaries.default


def _face_like(n, scheme, h, w, seed=0, device="cpu"):
    """Random points around a jittered ellipse layout: curves cross the map and its borders."""
    g = torch.Generator().manual_seed(seed)
    k = get_scheme(scheme).num_points
    ang = torch.rand(n, k, generator=g, dtype=torch.float64) * 6.3
    rad = 0.2 + 0.35 * torch.rand(n, k, generator=g, dtype=torch.float64)
    x = (0.5 + rad * torch.cos(ang)) * w + torch.randn(n, k, generator=g, dtype=torch.float64)
    y = (0.5 + rad * torch.sin(ang)) * h + torch.randn(n, k, generator=g, dtype=torch.float64)
    return torch.stack([x, y], -1).float().to(device)


@pytest.mark.parametrize("scheme", ["68", "98", "29"])
@pytest.mark.parametrize("per_curve", [False, True])
def test_schemes_match_reference(device, scheme, per_curve):
    lm = _face_like(2, scheme, 40, 48, seed=int(scheme), device=device)
    out = awing_ext.render_boundaries(lm, scheme, (40, 48), 1.0, per_curve=per_curve)
    curves = get_scheme(scheme).curves
    assert out.shape == (2, len(curves) if per_curve else 1, 40, 48) and out.dtype == torch.float32
    want = render_boundaries_reference(lm, curves, (40, 48), 1.0, per_curve=per_curve)
    torch.testing.assert_close(out.double(), want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.0])
@pytest.mark.parametrize("samples", [1, 4, 8])
@pytest.mark.parametrize("size", [(64, 64), (9, 23)], ids=str)
def test_sigmas_samples_sizes(device, sigma, samples, size):
    lm = _face_like(2, "68", *size, seed=samples, device=device)
    out = awing_ext.render_boundaries(lm, "300w", size, sigma, samples=samples)
    want = render_boundaries_reference(lm, SCHEMES["68"].curves, size, sigma, samples=samples)
    torch.testing.assert_close(out.double(), want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_dtypes(device, dtype):
    lm = _face_like(1, "29", 32, 32, seed=2, device=device).double()
    out = awing_ext.render_boundaries(lm, "cofw", 32, 1.0, dtype=dtype)
    assert out.dtype == dtype
    want = render_boundaries_reference(lm, SCHEMES["29"].curves, (32, 32), 1.0)
    atol = {torch.float64: 1e-10, torch.float16: 1e-3, torch.bfloat16: 8e-3}[dtype]
    torch.testing.assert_close(out.double(), want, rtol=0, atol=atol)


def test_curve_passes_through_points_and_is_smooth(device):
    # A parabola through 5 points: the spline interpolates them (value 1 at each control point),
    # and the dense spline hardly differs from finer sampling.
    xs = torch.tensor([4.0, 10.0, 16.0, 22.0, 28.0])
    pts = torch.stack([xs, 4 + (xs - 16) ** 2 / 12], -1)[None].to(device)
    out = awing_ext.render_boundaries(pts, [[0, 1, 2, 3, 4]], 32, 1.0)
    for x, y in pts[0].round().long().tolist():
        assert out[0, 0, y, x] == 1.0
    fine = awing_ext.render_boundaries(pts, [[0, 1, 2, 3, 4]], 32, 1.0, samples=64)
    assert (out - fine).abs().max() < 0.02


def test_custom_curves_outside_and_nan(device):
    lm = torch.tensor([[[2.0, 2.0], [12.0, 2.0], [float("nan"), 5.0], [-40.0, -40.0], [-30.0, -40.0],
                        [12.0, 12.0]]], device=device)
    curves = [[0, 1], [1, 2, 5], [3, 4], [0, 5, 1]]
    out = awing_ext.render_boundaries(lm, curves, (16, 16), 1.0, per_curve=True)
    assert out[0, 0, 2, 7] == 1.0
    assert out[0, 1].max() == 0  # every span touches the NaN point
    assert out[0, 2].max() == 0  # far outside
    want = render_boundaries_reference(lm, curves, (16, 16), 1.0, per_curve=True)
    torch.testing.assert_close(out.double(), want, rtol=0, atol=2e-5)
    merged = awing_ext.render_boundaries(lm, curves, (16, 16), 1.0)
    torch.testing.assert_close(merged, out.amax(dim=1, keepdim=True))


def test_default_scheme_from_k(device):
    lm = _face_like(1, "98", 24, 24, device=device)
    assert torch.equal(awing_ext.render_boundaries(lm, size=24), awing_ext.render_boundaries(lm, "wflw", 24))


@pytest.mark.parametrize("name", ["68", "98", "29"])
def test_scheme_tables(name):
    s = get_scheme(name)
    assert len(s.curves) == len(s.curve_names)
    assert all(len(c) >= 2 and all(0 <= i < s.num_points for i in c) for c in s.curves)
    assert sorted(s.flip) == list(range(s.num_points))
    assert all(s.flip[s.flip[i]] == i for i in range(s.num_points))  # an involution
    # mirrored curves map onto curves: the boundary of a flipped face is the flipped boundary
    curve_sets = {frozenset(c) for c in s.curves}
    assert all(frozenset(s.flip[i] for i in c) in curve_sets for c in s.curves)


def test_flip_consistency_68(device):
    """Boundary of the mirrored, permuted face == mirrored boundary (the scheme is symmetric)."""
    s = get_scheme("68")
    lm = _face_like(2, "68", 32, 32, seed=9, device=device)
    mirrored = lm.clone()
    mirrored[..., 0] = 31 - mirrored[..., 0]
    flipped = mirrored[:, list(s.flip)]
    a = awing_ext.render_boundaries(flipped, "68", 32, 1.0)
    b = awing_ext.render_boundaries(lm, "68", 32, 1.0).flip(-1)
    # spline direction reverses on some curves: equal up to the polyline's tiny asymmetry
    torch.testing.assert_close(a, b, rtol=0, atol=2e-3)


def test_opcheck(device):
    lm = _face_like(2, "29", 12, 14, seed=3, device=device)
    pts = [i for c in SCHEMES["29"].curves for i in c]
    lens = [len(c) for c in SCHEMES["29"].curves]
    torch.library.opcheck(OP, (lm, pts, lens, 12, 14, 1.0, 3.0, 8, False, None))
    torch.library.opcheck(OP, (lm.double(), pts, lens, 12, 14, 1.5, 2.0, 3, True, torch.float16))


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    lm = _face_like(2, "68", 16, 16, seed=4, device=device)

    def f(x):
        return awing_ext.render_boundaries(x + 0.5, "68", 16, 1.0) * 2

    torch.testing.assert_close(torch.compile(f, fullgraph=True)(lm), f(lm))


@requires_cuda
def test_cpu_and_cuda_agree():
    """Equal to 1e-5, but for pixels at the cutoff distance (cuda_parity.py)."""
    lm = _face_like(4, "68", 64, 64, seed=8)
    for per_curve in (False, True):
        cpu = awing_ext.render_boundaries(lm, "68", 64, 1.0, per_curve=per_curve)
        gpu = awing_ext.render_boundaries(lm.cuda(), "68", 64, 1.0, per_curve=per_curve)
        assert_renders_agree(cpu, gpu, rtol=0, atol=1e-5)


def test_render_boundaries_errors(device):
    lm = (torch.rand(2, 68, 2) * 60).to(device)
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
    with pytest.raises(RuntimeError, match="scheme '98' has 98 points, landmarks have 68"):
        awing_ext.render_boundaries(lm, "wflw", 64)
    with pytest.raises(ValueError, match="unknown landmark scheme"):
        awing_ext.render_boundaries(lm, "helen", 64)
    with pytest.raises(RuntimeError, match="landmarks must be a 3-D"):
        awing_ext.render_boundaries(lm[0], "68", 64)
    with pytest.raises(RuntimeError, match=r"landmarks must be 3-D \(N, K, 2\)"):
        torch.ops.awing_ext.render_boundaries(lm[..., :1], [0, 1], [2], 8, 8, 1.0, 3.0, 8, False, None)
    with pytest.raises(RuntimeError, match="curve_lengths sum to 3 but curve_points has 2 entries"):
        torch.ops.awing_ext.render_boundaries(lm, [0, 1], [3], 8, 8, 1.0, 3.0, 8, False, None)
