"""render_boundaries: the facial-curve boundary heatmap, (N, 1, H, W) or one channel per curve,
rendered for a batch on the landmarks' device (CPU and CUDA kernels; no autograd).

Coordinates (docs/design.md, "Conventions"): points are (x, y) in *heatmap pixel* coordinates
with pixel centres at integer coordinates: pixel (row h, column w) is the point (x=w, y=h), and
the map covers [-0.5, W-0.5] x [-0.5, H-0.5]. For an image of width W_img rendered to heatmaps
of width W, x_hm = (x_img + 0.5) * W / W_img - 0.5 (same for y).
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ._common import SizeLike, size_pair
from ._library import _C, ops
from .schemes import LandmarkScheme, get_scheme

__all__ = ["render_boundaries"]

CurvesLike = Union[None, str, int, LandmarkScheme, Sequence[Sequence[int]]]


@torch.library.register_fake("awing_ext::render_boundaries")
def _render_boundaries_fake(landmarks, curve_points, curve_lengths, height, width, sigma, truncate,
                            samples, per_curve, dtype):
    _C.check_render_boundaries_args(landmarks, curve_points, curve_lengths, height, width, sigma, truncate,
                                    samples, dtype)
    channels = len(curve_lengths) if per_curve else 1
    return landmarks.new_empty((landmarks.shape[0], channels, height, width), dtype=dtype or torch.float32)


def _curve_tables(curves: CurvesLike, num_points: int) -> Tuple[list, list]:
    if curves is None:
        curves = get_scheme(num_points)
    if isinstance(curves, (str, int, LandmarkScheme)):
        scheme = get_scheme(curves)
        if scheme.num_points != num_points:
            raise RuntimeError(f"render_boundaries: scheme {scheme.name!r} has {scheme.num_points} points, "
                             f"landmarks have {num_points}")
        curves = scheme.curves
    points, lengths = [], []
    for curve in curves:
        curve = [int(i) for i in curve]
        points.extend(curve)
        lengths.append(len(curve))
    return points, lengths


def render_boundaries(landmarks: Tensor, curves: CurvesLike = None, size: SizeLike = 64, sigma: float = 1.0, *,
                      per_curve: bool = False, truncate: float = 3.0, samples: int = 8,
                      dtype: Optional[torch.dtype] = None) -> Tensor:
    """Boundary heatmaps of facial curves, (N, 1, H, W), or (N, C, H, W) with per_curve=True.

    Each curve is the uniform Catmull-Rom spline through its landmarks (interpolating; the end
    spans duplicate the end points), each span sampled into `samples` line segments. Pixel
    (h, w) holds exp(-d^2 / (2 sigma^2)), d the distance from (w, h) to the nearest curve of the
    channel, where d < truncate * sigma and 0 beyond. Spans touching a landmark with a NaN
    coordinate are dropped (use NaN to leave out invisible points).

    Args:
        landmarks: (N, K, 2) float tensor of (x, y) in heatmap pixels.
        curves: a scheme ("68"/"300w", "98"/"wflw", "29"/"cofw", a LandmarkScheme) or a list of
            curves, each a list of >= 2 landmark indices. Default: the scheme with K points.
        size: H = W, or (H, W).
        sigma, truncate: as in render_heatmaps (the paper: sigma = 1, 3 sigma).
        per_curve: one channel per curve instead of the paper's single merged channel.
        samples: line segments per spline span (1 = straight polyline through the points).
        dtype: output dtype (float32 default).
    """
    h, w = size_pair(size, "render_boundaries")
    if not isinstance(landmarks, Tensor) or landmarks.dim() != 3:
        raise RuntimeError("render_boundaries: landmarks must be a 3-D (N, K, 2) tensor, got "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    points, lengths = _curve_tables(curves, landmarks.shape[1])
    return ops.render_boundaries(landmarks, points, lengths, h, w, float(sigma), float(truncate), int(samples),
                                 bool(per_curve), dtype)
