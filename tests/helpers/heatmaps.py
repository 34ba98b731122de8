"""Plain-torch heatmap references, independent of the kernels: Gaussian heatmaps for loss tests
and the softmax expectation (integral regression) that soft_argmax and the integral decoding compute."""
import torch


def gaussian_heatmaps(n: int, c: int, h: int, w: int, sigma: float = 1.5, *, seed: int = 0,
                      dtype=torch.float32, device="cpu") -> torch.Tensor:
    """(n, c, h, w) maps with one unit-peak Gaussian each, at random sub-pixel centres."""
    g = torch.Generator().manual_seed(seed)
    cx = torch.rand(n, c, 1, 1, generator=g, dtype=torch.float64) * (w - 1)
    cy = torch.rand(n, c, 1, 1, generator=g, dtype=torch.float64) * (h - 1)
    xs = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    ys = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    maps = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    return maps.to(dtype=dtype, device=device)


def softmax_expectation(heatmaps: torch.Tensor, beta: float) -> torch.Tensor:
    """(N, K, 2) (x, y) in heatmap pixels, float64: the expectation of the pixel coordinates
    (pixel i at coordinate i) under softmax(beta * h) over each (H, W) plane."""
    n, k, h, w = heatmaps.shape
    p = torch.softmax(beta * heatmaps.double().reshape(n, k, h * w), dim=-1).reshape(n, k, h, w)
    xs = torch.arange(w, dtype=torch.float64, device=heatmaps.device)
    ys = torch.arange(h, dtype=torch.float64, device=heatmaps.device)
    return torch.stack([(p.sum(2) * xs).sum(-1), (p.sum(3) * ys).sum(-1)], dim=-1)
