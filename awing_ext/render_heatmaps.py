"""render_heatmaps: one Gaussian per landmark, (N, K, H, W), rendered for a batch on the
landmarks' device (CPU and CUDA kernels; no autograd: targets are labels).

Coordinates (docs/design.md, "Conventions"): points are (x, y) in *heatmap pixel* coordinates
with pixel centres at integer coordinates: pixel (row h, column w) is the point (x=w, y=h), and
the map covers [-0.5, W-0.5] x [-0.5, H-0.5]. For an image of width W_img rendered to heatmaps
of width W, x_hm = (x_img + 0.5) * W / W_img - 0.5 (same for y).
Rendering then decoding (decode_heatmaps) returns the point up to the decoder's error.
"""
from typing import Optional

import torch
from torch import Tensor

from ._common import SizeLike, size_pair
from ._library import _C, ops

__all__ = ["render_heatmaps"]


@torch.library.register_fake("awing_ext::render_heatmaps")
def _render_heatmaps_fake(landmarks, visible, height, width, sigma, truncate, dtype):
    _C.check_render_heatmaps_args(landmarks, visible, height, width, sigma, truncate, dtype)
    return landmarks.new_empty((landmarks.shape[0], landmarks.shape[1], height, width),
                               dtype=dtype or torch.float32)


def render_heatmaps(landmarks: Tensor, size: SizeLike, sigma: float = 1.0, visible: Optional[Tensor] = None, *,
                    truncate: float = 3.0, dtype: Optional[torch.dtype] = None) -> Tensor:
    """Gaussian landmark heatmaps, (N, K, H, W), rendered on landmarks' device.

    Pixel (h, w) of channel k holds exp(-r^2 / (2 sigma^2)), r the distance from (w, h) to the
    landmark (x, y) = landmarks[n, k] (sub-pixel, heatmap pixel coordinates, see the module doc),
    where r < truncate * sigma (default 3 sigma) and 0 beyond. The peak is 1 only when the
    landmark sits on a pixel centre.

    Args:
        landmarks: (N, K, 2) float tensor of (x, y).
        size: H = W, or (H, W); both > 0.
        sigma: the Gaussian's standard deviation in heatmap pixels (> 0).
        visible: optional (N, K) tensor; channels where it is 0/False are all zero.
        truncate: the radius, in sigmas, beyond which values are 0.
        dtype: output dtype (float32 default; float64, float16, bfloat16). Arithmetic is float32
            (float64 for float64 output).
    Landmarks with a NaN or infinite coordinate, or farther than the radius outside the map,
    give an all-zero channel.
    """
    h, w = size_pair(size, "render_heatmaps")
    return ops.render_heatmaps(landmarks, visible, h, w, float(sigma), float(truncate), dtype)
