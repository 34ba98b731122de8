"""decode_heatmaps: reference, render -> decode round trip, argmax rules, op registration."""
import pytest
import torch

import awing_ext
from awing_ext.reference import decode_heatmaps_reference
from helpers.cuda_parity import assert_decodes_agree, requires_cuda
from helpers.heatmaps import gaussian_heatmaps

OP = torch.ops.awing_ext.decode_heatmaps.default


def _points(n, k, h, w, margin, seed, device):
    g = torch.Generator().manual_seed(seed)
    x = margin + torch.rand(n, k, generator=g, dtype=torch.float64) * (w - 1 - 2 * margin)
    y = margin + torch.rand(n, k, generator=g, dtype=torch.float64) * (h - 1 - 2 * margin)
    return torch.stack([x, y], -1).to(device)


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_round_trip(device, sigma, dtype):
    """Render at random sub-pixel points, decode: the Taylor step's error stays < 0.02 px."""
    pts = _points(16, 68, 64, 64, 1.0, seed=int(sigma * 7), device=device).to(dtype)
    hm = awing_ext.render_heatmaps(pts, 64, sigma, dtype=dtype)
    coords, scores = awing_ext.decode_heatmaps(hm, "taylor")
    err = (coords.double() - pts.double()).norm(dim=-1)
    q_coords, _ = awing_ext.decode_heatmaps(hm, "quarter")
    q_err = (q_coords.double() - pts.double()).norm(dim=-1)
    print(f"\nround trip sigma={sigma} {dtype}: taylor mean {err.mean():.2e} max {err.max():.2e} px; "
          f"quarter mean {q_err.mean():.3f} max {q_err.max():.3f} px")
    assert err.max() < 0.02
    assert 0.05 < q_err.mean() < 0.3 and q_err.max() < 0.5
    torch.testing.assert_close(scores, hm.flatten(2).amax(-1).to(scores.dtype))


@pytest.mark.parametrize("method", ["taylor", "quarter"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_matches_reference(device, method, dtype):
    hm = gaussian_heatmaps(3, 7, 20, 24, sigma=1.5, seed=3, dtype=dtype, device=device)
    hm = hm + 0.01 * torch.rand(hm.shape, generator=torch.Generator().manual_seed(1)).to(dtype=dtype, device=device)
    coords, scores = awing_ext.decode_heatmaps(hm, method)
    want_c, want_s = decode_heatmaps_reference(hm, method)
    assert coords.dtype == want_c.dtype and coords.shape == (3, 7, 2) and scores.shape == (3, 7)
    tol = 1e-9 if dtype == torch.float64 else 2e-4
    torch.testing.assert_close(coords, want_c, rtol=0, atol=tol)
    torch.testing.assert_close(scores, want_s, rtol=0, atol=0)


def test_border_ties_and_degenerate(device):
    hm = torch.zeros(1, 5, 6, 7, device=device)
    hm[0, 0, 0, 0] = 1.0           # corner: no neighbours on either side, no move
    hm[0, 1, 2, 6] = 1.0           # right border: x stays 6, y can move
    hm[0, 1, 3, 6] = 0.5
    hm[0, 2, 3, 3] = 1.0           # tie: the first (row-major) maximum wins
    hm[0, 2, 4, 1] = 1.0
    hm[0, 3] = float("nan")        # all NaN: pixel (0, 0)
    hm[0, 4, 2, 2] = 1.0           # isolated peak (zero neighbours): taylor falls back to quarter
    hm[0, 4, 2, 3] = 0.5
    for method in ("taylor", "quarter"):
        coords, scores = awing_ext.decode_heatmaps(hm, method)
        c = coords[0].tolist()
        assert c[0] == [0.0, 0.0]
        assert c[1] == [6.0, 2.25]
        assert c[2] == [3.0, 3.0]
        assert c[3] == [0.0, 0.0] and torch.isnan(scores[0, 3])
        assert c[4] == [2.25, 2.0]
        want_c, _ = decode_heatmaps_reference(hm[:, [0, 1, 2, 4]], method)
        torch.testing.assert_close(coords[:, [0, 1, 2, 4]], want_c)


def test_round_trip_near_borders(device):
    """Points within a pixel of the border decode within a quarter pixel or so (quarter fallback)."""
    pts = torch.tensor([[[0.3, 10.2], [62.8, 31.0], [20.0, 0.0], [63.0, 63.0]]], device=device)
    hm = awing_ext.render_heatmaps(pts, 64, 1.0)
    coords, _ = awing_ext.decode_heatmaps(hm, "taylor")
    assert ((coords - pts).norm(dim=-1) < 0.36).all()


def test_empty(device):
    coords, scores = awing_ext.decode_heatmaps(torch.zeros(0, 3, 4, 4, device=device))
    assert coords.shape == (0, 3, 2) and scores.shape == (0, 3)


def test_opcheck(device):
    hm = gaussian_heatmaps(2, 3, 9, 11, seed=4, device=device)
    torch.library.opcheck(OP, (hm, "taylor"))
    torch.library.opcheck(OP, (hm.half(), "quarter"))


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    hm = gaussian_heatmaps(2, 5, 16, 16, seed=5, device=device)

    def f(h):
        c, s = awing_ext.decode_heatmaps(h * 1.0, "taylor")
        return c * 4 + 1.5, s

    got, want = torch.compile(f, fullgraph=True)(hm), f(hm)
    torch.testing.assert_close(got, want)


@requires_cuda
def test_cpu_and_cuda_agree():
    """Same argmax and scores; offsets to 1e-4, either side of DARK's det > 0 test at det ~ 0."""
    hm = gaussian_heatmaps(8, 68, 64, 64, seed=6)
    for method in ("taylor", "quarter"):
        assert_decodes_agree(hm, method)


def test_decode_errors(device):
    h = torch.rand(2, 3, 8, 8, device=device)
    with pytest.raises(RuntimeError, match=r"heatmaps must be 4-D \(N, C, H, W\)"):
        awing_ext.decode_heatmaps(h[0])
    with pytest.raises(RuntimeError, match="method must be one of 'dark', 'taylor', 'quarter', 'integral', "
                                           "got 'soft-argmax'"):
        awing_ext.decode_heatmaps(h, "soft-argmax")
    with pytest.raises(RuntimeError, match=r"the op's method must be 'quarter' or 'taylor' \(awing_ext.decode_heatmaps "
                                           r"adds 'dark' and 'integral'\), got 'dark'"):
        torch.ops.awing_ext.decode_heatmaps(h, "dark")
    for method in awing_ext.DECODE_METHODS:
        with pytest.raises(RuntimeError, match="heatmaps must have H, W > 0"):
            awing_ext.decode_heatmaps(torch.zeros(1, 2, 0, 4, device=device), method)
        with pytest.raises(RuntimeError, match="heatmaps must be float32"):
            awing_ext.decode_heatmaps(h.int(), method)
        with pytest.raises(RuntimeError, match=r"heatmaps must be 4-D \(N, C, H, W\)"):
            awing_ext.decode_heatmaps(h[0], method)
