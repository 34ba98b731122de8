"""decode_heatmaps: landmark coordinates and scores from heatmaps, every decoder behind one call.

Coordinates (docs/design.md, "Conventions"): points are (x, y) in *heatmap pixel* coordinates
with pixel centres at integer coordinates: pixel (row h, column w) is the point (x=w, y=h), and
the map covers [-0.5, W-0.5] x [-0.5, H-0.5]. For an image of width W_img rendered to heatmaps
of width W, x_hm = (x_img + 0.5) * W / W_img - 0.5 (same for y).

The methods (docs/evaluation.md, "Decoding", measures them):
  quarter   argmax + 0.25 px towards the larger neighbour (the AWing authors' code). Kernel.
  taylor    argmax + the Taylor step of log(h) (DARK's second step alone). Kernel.
  dark      DARK as published (Zhang et al., CVPR 2020): distribution modulation (the planes
            smoothed by a Gaussian of the training sigma, rescaled to their original maximum,
            floored at 1e-10), then the Taylor step on the modulated planes. The smoothing is
            a fixed Gaussian convolution (torch ops), the Taylor step the kernel.
  integral  the relu(h) expectation in a (2 ceil(3 sigma) + 1)^2 window around the argmax
            (awing_ext.integral_coords): the function the training's integral term uses, and
            differentiable.
The score of every method is the heatmap's value at its first maximum (NaN ignored), taken from
the heatmaps as given; a low score is how a flat (lost) plane shows.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import opmath_dtype, sigma_arg
from ._library import _C, ops
from .integral_coords import integral_coords, integral_radius

__all__ = ["decode_heatmaps", "modulate_heatmaps", "DECODE_METHODS"]

DECODE_METHODS = ("dark", "taylor", "quarter", "integral")
# DARK's floor before the log (its code: np.maximum(hm, 1e-10)).
DARK_FLOOR = 1e-10


@torch.library.register_fake("awing_ext::decode_heatmaps")
def _decode_heatmaps_fake(heatmaps, method):
    _C.check_decode_heatmaps_args(heatmaps, method)
    dt = opmath_dtype(heatmaps.dtype)
    n, k = heatmaps.shape[0], heatmaps.shape[1]
    return heatmaps.new_empty((n, k, 2), dtype=dt), heatmaps.new_empty((n, k), dtype=dt)


def _check_sigma(sigma) -> float:
    return sigma_arg(sigma, "decode_heatmaps", " (the training targets' sigma in heatmap pixels)")


def gaussian_kernel_1d(sigma: float, dtype=torch.float32, device=None) -> Tensor:
    """The normalised 1-D Gaussian of `sigma` on [-ceil(3 sigma), ceil(3 sigma)]."""
    r = integral_radius(sigma)
    x = torch.arange(-r, r + 1, dtype=torch.float64, device=device)
    k = torch.exp(-x * x / (2 * sigma * sigma))
    return (k / k.sum()).to(dtype)


def modulate_heatmaps(heatmaps: Tensor, sigma: float = 1.0) -> Tensor:
    """DARK's distribution modulation (Zhang et al., CVPR 2020, Sec. 3.2 and its code): each plane
    smoothed by the Gaussian of `sigma` (the training targets', as DARK's kernel follows them) with
    zeros beyond the border, rescaled so its maximum is the plane's original maximum, floored at
    1e-10. NaN values count as 0. Returns (N, K, H, W) in the kernels' arithmetic dtype (float32,
    float64 for float64)."""
    sigma = _check_sigma(sigma)
    if not torch.compiler.is_compiling():   # traced, the op's fake kernel checks (dynamo cannot call _C)
        _C.check_decode_heatmaps_args(heatmaps, "taylor")
    n, k, h, w = heatmaps.shape
    dtype = opmath_dtype(heatmaps.dtype)
    planes = heatmaps.to(dtype).reshape(n * k, 1, h, w)
    planes = torch.where(torch.isnan(planes), torch.zeros_like(planes), planes)
    kernel = gaussian_kernel_1d(sigma, dtype, heatmaps.device)
    r = kernel.numel() // 2
    blurred = F.conv2d(planes, kernel.view(1, 1, 1, -1), padding=(0, r))
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1), padding=(r, 0))
    if n * k > 0:
        original_max = planes.amax(dim=(2, 3), keepdim=True)
        blurred_max = blurred.amax(dim=(2, 3), keepdim=True)
        # the rescale only moves the floor's place: the Taylor step's log-derivatives ignore a scale
        scale = torch.where(blurred_max != 0, original_max / torch.where(blurred_max != 0, blurred_max, 1), 1)
        blurred = blurred * scale
    return blurred.clamp_min(DARK_FLOOR).reshape(n, k, h, w)


def decode_heatmaps(heatmaps: Tensor, method: str = "dark", *, sigma: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Landmark coordinates (N, K, 2) as (x, y) in heatmap pixels, and scores (N, K), from
    heatmaps (N, K, H, W). Both are float32 (float64 for float64 heatmaps).

    method: "dark" (default: modulation, then Taylor), "taylor", "quarter" or "integral" (module
    docstring). sigma: the training targets' Gaussian sigma in heatmap pixels, which sets DARK's
    smoothing kernel and integral's window (radius ceil(3 sigma)); unused by quarter and taylor.
    Only "integral" coordinates carry a gradient (to `heatmaps`); scores never do.
    Edge cases, per method: an all-zero plane decodes to pixel (0, 0) (integral: the same; dark:
    its smoothing is zero too) with score 0; an all-NaN plane gives (0, 0) and a NaN score
    (integral: NaN coordinates). Bad arguments raise RuntimeError.
    """
    if method in ("quarter", "taylor"):
        return ops.decode_heatmaps(heatmaps.detach(), method)
    if method not in DECODE_METHODS:
        raise RuntimeError(f"decode_heatmaps: method must be one of {', '.join(map(repr, DECODE_METHODS))}, "
                           f"got {method!r}")
    sigma = _check_sigma(sigma)
    scores = ops.decode_heatmaps(heatmaps.detach(), "quarter")[1]   # also checks heatmaps
    if method == "integral":
        return integral_coords(heatmaps, integral_radius(sigma)), scores
    coords = ops.decode_heatmaps(modulate_heatmaps(heatmaps.detach(), sigma), "taylor")[0]
    return coords, scores
