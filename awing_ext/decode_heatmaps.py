"""decode_heatmaps: sub-pixel landmark coordinates and scores from heatmaps (CPU and CUDA
kernels; no autograd).

Coordinates (docs/design.md, "Conventions"): points are (x, y) in *heatmap pixel* coordinates
with pixel centres at integer coordinates: pixel (row h, column w) is the point (x=w, y=h), and
the map covers [-0.5, W-0.5] x [-0.5, H-0.5]. For an image of width W_img rendered to heatmaps
of width W, x_hm = (x_img + 0.5) * W / W_img - 0.5 (same for y).
Decoding returns points in the same heatmap coordinates.
"""
from typing import Tuple

import torch
from torch import Tensor

from ._common import opmath_dtype
from ._library import _C, ops

__all__ = ["decode_heatmaps"]


@torch.library.register_fake("awing_ext::decode_heatmaps")
def _decode_heatmaps_fake(heatmaps, method):
    _C.check_decode_heatmaps_args(heatmaps, method)
    dt = opmath_dtype(heatmaps.dtype)
    n, k = heatmaps.shape[0], heatmaps.shape[1]
    return heatmaps.new_empty((n, k, 2), dtype=dt), heatmaps.new_empty((n, k), dtype=dt)


def decode_heatmaps(heatmaps: Tensor, method: str = "dark") -> Tuple[Tensor, Tensor]:
    """Landmark coordinates (N, K, 2) as (x, y) in heatmap pixels, and scores (N, K), from
    heatmaps (N, K, H, W). Both are float32 (float64 for float64 heatmaps).

    The argmax pixel is the first maximal value in row-major order (NaN ignored); the score is
    the heatmap's value there. method:
      * "dark" (default): Taylor expansion of log(heatmap) at the maximum (DARK, Zhang et al.
        2020): exact for Gaussian peaks; falls back to "quarter" at the border, where a 3 x 3
        neighbour is <= 0, or where the log-Hessian is not negative definite.
      * "quarter": argmax plus 0.25 px towards the larger neighbour on each axis (the paper's code).
    Another method is a RuntimeError (the kernels' check, run by the fake kernel too).
    """
    return ops.decode_heatmaps(heatmaps, method)
