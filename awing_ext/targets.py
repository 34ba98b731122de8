"""Training targets rendered for a whole batch on the landmarks' device, and heatmap decoding.

Coordinate convention (docs/design.md): points are (x, y) in *heatmap pixel* coordinates with pixel
centres at integer coordinates: pixel (row h, column w) is the point (x=w, y=h), and the map
covers [-0.5, W-0.5] x [-0.5, H-0.5]. For an image of width W_img rendered to heatmaps of width
W, x_hm = (x_img + 0.5) * W / W_img - 0.5 (same for y). Decoding returns points in the same
heatmap coordinates, so render -> decode is the identity up to the decoder's error.

Ops (CPU and CUDA kernels; no autograd - targets are labels):

* :func:`render_heatmaps`  - one Gaussian per landmark, (N, K, H, W).
* :func:`render_boundaries` - the facial-curve boundary heatmap, (N, 1, H, W) or one channel per curve.
* :func:`weight_map`       - the 0/1 mask of the Adaptive Wing loss' weighted loss map.
* :func:`decode_heatmaps`  - sub-pixel landmark coordinates and scores from heatmaps.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ._library import ops
from .schemes import LandmarkScheme, get_scheme

__all__ = ["render_heatmaps", "render_boundaries", "weight_map", "decode_heatmaps"]

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_METHODS = ("dark", "quarter")

SizeLike = Union[int, Sequence[int]]
CurvesLike = Union[None, str, int, LandmarkScheme, Sequence[Sequence[int]]]


def _size(size: SizeLike, op: str) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"{op}: size must be an int or (H, W), got {size!r}")
    return size


def _opmath(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


# ------------------------------------------------------------------------ fake (meta) kernels

def _check_landmarks(op, landmarks):
    torch._check(landmarks.dim() == 3 and landmarks.shape[-1] == 2,
                 lambda: f"{op}: landmarks must be 3-D (N, K, 2), got shape {tuple(landmarks.shape)}")
    torch._check(landmarks.dtype in _FLOATS,
                 lambda: f"{op}: landmarks must be float32, float64, float16 or bfloat16, got {landmarks.dtype}")


def _check_render(op, height, width, sigma, truncate):
    torch._check(height > 0 and width > 0, lambda: f"{op}: size must be positive (H, W), got ({height}, {width})")
    torch._check(sigma > 0, lambda: f"{op}: sigma must be a finite number > 0, got {sigma}")
    torch._check(truncate > 0, lambda: f"{op}: truncate must be a finite number > 0, got {truncate}")


@torch.library.register_fake("awing_ext::render_heatmaps")
def _render_heatmaps_fake(landmarks, visible, height, width, sigma, truncate, dtype):
    _check_landmarks("render_heatmaps", landmarks)
    _check_render("render_heatmaps", height, width, sigma, truncate)
    if visible is not None:
        torch._check(tuple(visible.shape) == tuple(landmarks.shape[:2]),
                     lambda: f"render_heatmaps: visible must have shape (N, K), got {tuple(visible.shape)}")
    return landmarks.new_empty((landmarks.shape[0], landmarks.shape[1], height, width),
                               dtype=dtype or torch.float32)


@torch.library.register_fake("awing_ext::render_boundaries")
def _render_boundaries_fake(landmarks, curve_points, curve_lengths, height, width, sigma, truncate,
                            samples, per_curve, dtype):
    _check_landmarks("render_boundaries", landmarks)
    _check_render("render_boundaries", height, width, sigma, truncate)
    channels = len(curve_lengths) if per_curve else 1
    return landmarks.new_empty((landmarks.shape[0], channels, height, width), dtype=dtype or torch.float32)


@torch.library.register_fake("awing_ext::weight_map")
def _weight_map_fake(target, threshold, kernel_size):
    torch._check(target.dim() == 4, lambda: f"weight_map: target must be 4-D (N, C, H, W), got {target.dim()}-D")
    return torch.empty_like(target, memory_format=torch.contiguous_format)


@torch.library.register_fake("awing_ext::decode_heatmaps")
def _decode_heatmaps_fake(heatmaps, method):
    torch._check(heatmaps.dim() == 4, lambda: f"decode_heatmaps: heatmaps must be 4-D (N, K, H, W), got {heatmaps.dim()}-D")
    dt = _opmath(heatmaps.dtype)
    n, k = heatmaps.shape[0], heatmaps.shape[1]
    return heatmaps.new_empty((n, k, 2), dtype=dt), heatmaps.new_empty((n, k), dtype=dt)


# ----------------------------------------------------------------------------- public API

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
    h, w = _size(size, "render_heatmaps")
    return ops.render_heatmaps(landmarks, visible, h, w, float(sigma), float(truncate), dtype)


def _curve_tables(curves: CurvesLike, num_points: int) -> Tuple[list, list]:
    if curves is None:
        curves = get_scheme(num_points)
    if isinstance(curves, (str, int, LandmarkScheme)):
        scheme = get_scheme(curves)
        if scheme.num_points != num_points:
            raise ValueError(f"render_boundaries: scheme {scheme.name!r} has {scheme.num_points} points, "
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
    h, w = _size(size, "render_boundaries")
    if not isinstance(landmarks, Tensor) or landmarks.dim() != 3:
        raise ValueError("render_boundaries: landmarks must be a 3-D (N, K, 2) tensor, got "
                         f"{getattr(landmarks, 'shape', type(landmarks).__name__)}")
    points, lengths = _curve_tables(curves, landmarks.shape[1])
    return ops.render_boundaries(landmarks, points, lengths, h, w, float(sigma), float(truncate), int(samples),
                                 bool(per_curve), dtype)


def weight_map(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """The loss-map mask M of the Adaptive Wing loss: 1 where the kernel_size x kernel_size grey
    dilation of `target` (N, C, H, W) is > threshold, else 0, in target's dtype.

    Equal to ``scipy.ndimage.grey_dilation(target, size=(1, 1, k, k)) > threshold`` and to the
    mask the fused loss computes internally (loss weight = W * M + 1).
    """
    return ops.weight_map(target, float(threshold), int(kernel_size))


def decode_heatmaps(heatmaps: Tensor, method: str = "dark") -> Tuple[Tensor, Tensor]:
    """Landmark coordinates (N, K, 2) as (x, y) in heatmap pixels, and scores (N, K), from
    heatmaps (N, K, H, W). Both are float32 (float64 for float64 heatmaps).

    The argmax pixel is the first maximal value in row-major order (NaN ignored); the score is
    the heatmap's value there. method:
      * "dark" (default): Taylor expansion of log(heatmap) at the maximum (DARK, Zhang et al.
        2020): exact for Gaussian peaks; falls back to "quarter" at the border, where a 3 x 3
        neighbour is <= 0, or where the log-Hessian is not negative definite.
      * "quarter": argmax plus 0.25 px towards the larger neighbour on each axis (the paper's code).
    """
    if method not in _METHODS:
        raise ValueError(f"decode_heatmaps: method must be one of {_METHODS}, got {method!r}")
    return ops.decode_heatmaps(heatmaps, method)
