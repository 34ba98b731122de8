"""soft_argmax: integral regression (Sun et al., "Integral Human Pose Regression", ECCV 2018) as a
fused, differentiable op (CPU and CUDA kernels).

Each plane's landmark is the expectation of its pixel coordinates under softmax(beta * h):
(x, y) = sum_ij p_ij * (j, i), in heatmap pixels with pixel (row i, column j) at (x = j, y = i),
the convention decode_heatmaps uses (docs/design.md, "Conventions"). Unlike decode_heatmaps'
argmax it has a gradient, so a coordinate loss can train the heatmaps ("AWing + Integral").

The max is subtracted before the exponential, so any finite beta is stable; as beta grows the
result approaches the argmax pixel. A plane holding NaN or +inf (or only -inf) gives NaN
coordinates and NaN gradients; -inf values get weight 0. The forward keeps no probabilities:
the backward op recomputes them from the heatmaps (one pass more, no (N, K, H, W) buffer saved).
Differentiable once, with respect to the heatmaps.
"""
from torch import Tensor

from ._coords_op import register_coords_op
from ._library import _C, ops

__all__ = ["soft_argmax"]

register_coords_op("soft_argmax", _C.check_soft_argmax_args, _C.check_soft_argmax_backward_args)


def soft_argmax(heatmaps: Tensor, beta: float = 1.0) -> Tensor:
    """Landmark coordinates (N, K, 2) as (x, y) in heatmap pixels from heatmaps (N, K, H, W): the
    expectation of the pixel coordinates under softmax(beta * heatmap) over each plane.

    float32 coordinates (float64 for float64 heatmaps); the gradient flows to `heatmaps` in their
    dtype. beta (finite, > 0) sharpens the softmax: heatmaps with values in [0, 1] (rendered
    Gaussians) need a large beta (tens to hundreds) for the expectation to sit near the peak.
    Bad arguments raise the op's RuntimeError (on every device and under torch.compile).
    """
    return ops.soft_argmax(heatmaps, float(beta))
