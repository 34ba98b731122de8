"""Helpers for the CPU-vs-CUDA comparisons.

The two backends share the per-element formulas but not the instructions: the CPU kernels use
their own exp/log polynomials (at::vec, csrc/cpu/vec_math.h), CUDA uses expf/logf/log1pf and
nvcc contracts a*b + c into FMAs. Values therefore agree to ~1e-6 relative, and a hard
threshold (the Gaussian cutoff r^2 < cutoff^2, DARK's det > 0) can fall on different sides for a
value within an ulp of it. These helpers allow exactly that and nothing more.
"""
import math

import pytest
import torch

import awing_ext

from helpers.device_support import CUDA_SKIP_REASON

requires_cuda = pytest.mark.skipif(CUDA_SKIP_REASON is not None, reason=CUDA_SKIP_REASON or "")
requires_two_gpus = pytest.mark.skipif(
    CUDA_SKIP_REASON is not None or torch.cuda.device_count() < 2,
    reason=CUDA_SKIP_REASON or "needs two CUDA devices")


def assert_renders_agree(cpu: torch.Tensor, gpu: torch.Tensor, truncate: float = 3.0, rtol: float = 1e-5,
                         atol: float = 1e-6) -> None:
    """Rendered maps agree to rtol/atol, except pixels at the cutoff radius, which may be 0 on one
    backend and exp(-truncate^2 / 2) on the other (r^2 within rounding of cutoff^2)."""
    cpu, gpu = cpu.double(), gpu.double().cpu()
    assert cpu.shape == gpu.shape
    edge = math.exp(-truncate * truncate / 2)
    close = (cpu - gpu).abs() <= atol + rtol * gpu.abs()
    one_zero = (cpu == 0) ^ (gpu == 0)
    at_cutoff = one_zero & ((cpu + gpu - edge).abs() <= 1e-3 * edge)
    bad = ~(close | at_cutoff)
    assert not bad.any(), (f"{int(bad.sum())} pixels differ, e.g. cpu {cpu[bad][:5].tolist()} "
                           f"gpu {gpu[bad][:5].tolist()}")


def log_hessian_det(heatmaps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """det and hxx of the central-difference log-Hessian at the decoded argmax pixel (float64),
    NaN where the 3x3 neighbourhood leaves the map or is not positive."""
    n, k, h, w = heatmaps.shape
    hm = heatmaps.double().cpu().reshape(n * k, h, w)
    flat = hm.reshape(n * k, -1)
    idx = torch.nan_to_num(flat, nan=-math.inf).argmax(dim=1)
    py, px = idx // w, idx % w
    out = torch.full((n * k,), math.nan, dtype=torch.float64)
    for i in range(n * k):
        y, x = int(py[i]), int(px[i])
        if 0 < x < w - 1 and 0 < y < h - 1:
            nb = hm[i, y - 1:y + 2, x - 1:x + 2]
            if (nb > 0).all():
                lg = nb.log()
                hxx = lg[1, 2] - 2 * lg[1, 1] + lg[1, 0]
                hyy = lg[2, 1] - 2 * lg[1, 1] + lg[0, 1]
                hxy = 0.25 * (lg[2, 2] - lg[0, 2] - lg[2, 0] + lg[0, 0])
                out[i] = hxx * hyy - hxy * hxy
    return out.reshape(n, k)


def assert_decodes_agree(heatmaps: torch.Tensor, method: str, atol: float = 1e-4) -> None:
    """decode_heatmaps on the CPU and on CUDA: identical argmax (scores bitwise equal, first
    maximum on ties, NaN ignored) and sub-pixel offsets to `atol`, except where DARK's
    det > 0 test is within rounding of 0: there either side of the test is accepted."""
    c_xy, c_s = awing_ext.decode_heatmaps(heatmaps, method)
    g_xy, g_s = awing_ext.decode_heatmaps(heatmaps.cuda(), method)
    g_xy, g_s = g_xy.cpu(), g_s.cpu()
    assert torch.equal(c_s.isnan(), g_s.isnan())
    assert torch.equal(torch.nan_to_num(c_s), torch.nan_to_num(g_s)), "argmax values differ"
    diff = (c_xy - g_xy).abs().amax(dim=-1)
    if method == "taylor":
        det = log_hessian_det(heatmaps, c_xy)
        q_xy, _ = awing_ext.decode_heatmaps(heatmaps, "quarter")
        # At det ~ 0 one backend may take the DARK step and the other the quarter fallback.
        near_singular = det.abs() <= 1e-4
        either = ((g_xy - q_xy).abs().amax(-1) <= atol) | ((g_xy - c_xy).abs().amax(-1) <= atol)
        ok = (diff <= atol) | (near_singular & either)
    else:
        ok = diff <= atol
    assert ok.all(), f"{int((~ok).sum())} planes decode differently, max diff {float(diff.max())}"
