"""Plain-torch Gaussian heatmaps for loss tests (independent of the render kernels)."""
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
