"""render_heatmaps against the dense reference; conventions, edge cases, op registration."""
import pytest
import torch

import awing_ext
from awing_ext.reference import render_heatmaps_reference
from helpers.cuda_parity import assert_renders_agree, requires_cuda

OP = torch.ops.awing_ext.render_heatmaps.default
TOL = {torch.float32: 1e-6, torch.float64: 1e-12, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def _landmarks(n, k, h, w, seed=0, margin=4.0, dtype=torch.float32, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, k, generator=g, dtype=torch.float64) * (w + 2 * margin) - margin
    y = torch.rand(n, k, generator=g, dtype=torch.float64) * (h + 2 * margin) - margin
    return torch.stack([x, y], -1).to(dtype=dtype, device=device)


@pytest.mark.parametrize("size", [(64, 64), (17, 31), (1, 5)], ids=str)
@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_matches_reference(device, size, sigma):
    lm = _landmarks(3, 11, *size, seed=int(sigma * 10) + size[1], device=device)
    out = awing_ext.render_heatmaps(lm, size, sigma)
    assert out.shape == (3, 11, *size) and out.dtype == torch.float32 and out.device == lm.device
    torch.testing.assert_close(out.double(), render_heatmaps_reference(lm, size, sigma), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("lm_dtype", [torch.float32, torch.float64], ids=str)
def test_dtypes(device, dtype, lm_dtype):
    lm = _landmarks(2, 5, 20, 24, seed=1, dtype=lm_dtype, device=device)
    out = awing_ext.render_heatmaps(lm, (20, 24), 1.5, dtype=dtype)
    assert out.dtype == dtype
    torch.testing.assert_close(out.double(), render_heatmaps_reference(lm, (20, 24), 1.5), rtol=0, atol=TOL[dtype])


def test_truncate_and_peak(device):
    lm = torch.tensor([[[5.0, 6.0], [10.25, 3.5]]], device=device)
    out = awing_ext.render_heatmaps(lm, (16, 16), 1.0, truncate=2.0)
    assert out[0, 0, 6, 5] == 1.0  # on a pixel centre: peak 1 at (x=5, y=6) = row 6, column 5
    assert out[0, 0, 6, 7] == 0.0  # r = 2 = truncate * sigma: strict cut-off
    assert out[0, 0, 6, 6] > 0
    assert (out[0, 0] > 0).sum() == (render_heatmaps_reference(lm, (16, 16), 1.0, truncate=2.0)[0, 0] > 0).sum()
    assert 0 < out[0, 1].max() < 1


def test_invisible_nan_and_far_outside(device):
    lm = torch.tensor([[[5.0, 5.0], [float("nan"), 3.0], [3.0, float("inf")], [-100.0, 5.0],
                        [1e30, -1e30], [-2.0, 8.0], [7.0, 7.0]]], device=device)
    vis = torch.tensor([[1, 1, 1, 1, 1, 1, 0]], device=device)
    out = awing_ext.render_heatmaps(lm, (12, 12), 1.0, visible=vis)
    peaks = out.amax(dim=(2, 3))[0]
    assert peaks[0] == 1.0
    assert (peaks[1:5] == 0).all() and peaks[6] == 0
    assert 0 < peaks[5] < 1  # 2 px outside the left border: its tail is still rendered
    torch.testing.assert_close(out.double(), render_heatmaps_reference(lm, (12, 12), 1.0, vis), rtol=0, atol=1e-6)
    assert torch.isfinite(out).all()


def test_visible_bool_and_float(device):
    lm = _landmarks(2, 4, 10, 10, seed=3, device=device)
    vb = torch.tensor([[True, False, True, True], [False, True, True, False]], device=device)
    a = awing_ext.render_heatmaps(lm, 10, 1.0, visible=vb)
    b = awing_ext.render_heatmaps(lm, 10, 1.0, visible=vb.float())
    assert torch.equal(a, b)
    assert (a[~vb] == 0).all()


def test_empty(device):
    out = awing_ext.render_heatmaps(torch.zeros(0, 3, 2, device=device), (4, 5), 1.0)
    assert out.shape == (0, 3, 4, 5)


def test_opcheck(device):
    lm = _landmarks(2, 3, 9, 11, seed=4, device=device)
    vis = torch.tensor([[1, 0, 1], [1, 1, 0]], dtype=torch.bool, device=device)
    torch.library.opcheck(OP, (lm, None, 9, 11, 1.0, 3.0, None))
    torch.library.opcheck(OP, (lm.double(), vis, 9, 11, 2.0, 2.5, torch.float16))


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()

    def f(lm):
        return awing_ext.render_heatmaps(lm * 1.0, (16, 16), 1.5) * 2

    lm = _landmarks(2, 5, 16, 16, seed=5, device=device)
    torch.testing.assert_close(torch.compile(f, fullgraph=True)(lm), f(lm))


@requires_cuda
def test_cpu_and_cuda_agree():
    """Equal to 1e-6, but for pixels whose r^2 is within rounding of the cutoff (cuda_parity.py)."""
    lm = _landmarks(4, 68, 64, 64, seed=6)
    cpu = awing_ext.render_heatmaps(lm, 64, 1.0)
    gpu = awing_ext.render_heatmaps(lm.cuda(), 64, 1.0)
    assert_renders_agree(cpu, gpu, rtol=0, atol=1e-6)


def test_render_heatmaps_errors(device):
    lm = (torch.rand(2, 68, 2) * 60).to(device)
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
