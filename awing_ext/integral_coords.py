"""integral_coords: integral regression that does not round, as a fused, differentiable op (CPU
and CUDA kernels).

Each plane's landmark is the expectation of its pixel coordinates under relu(h), normalised
over the (2r + 1) x (2r + 1) window centred on the plane's first maximum:
(x, y) = sum_R v_ij * (j, i) / sum_R v_ij, v = max(h, 0), in heatmap pixels with pixel (row i,
column j) at (x = j, y = i), the convention of decode_heatmaps (docs/design.md, "Conventions").

Why not softmax(beta * h) over the whole plane (Sun et al.'s soft-argmax, awing_ext.soft_argmax):
on the training targets (rendered sigma = 1 Gaussians at random sub-pixel centres) soft-argmax at
beta = 30 is off by 0.30 px on average (it rounds towards the argmax pixel) and by 7 px at peak
0.3; this expectation with r = ceil(3 sigma) = 3 is off by 0.005 px whatever the peak, so a
coordinate loss on it is ~0 at the perfect target (docs/evaluation.md, "Decoding", has the table).

The window's position carries no gradient; inside it d x / d h_ij = (j - x) / S for h_ij > 0.
A window without a positive value (a flat or negative plane) gives the argmax pixel and a zero
gradient; NaN or +inf inside the window gives NaN. Differentiable once, w.r.t. the heatmaps.
"""
import math

from torch import Tensor

from ._common import integer_arg, sigma_arg
from ._coords_op import register_coords_op
from ._library import _C, ops

__all__ = ["integral_coords", "integral_radius"]

register_coords_op("integral_coords", _C.check_integral_coords_args, _C.check_integral_coords_backward_args)


def integral_radius(sigma: float) -> int:
    """The window radius for Gaussian targets of `sigma` heatmap pixels: ceil(3 sigma), the
    support of the rendered Gaussian (render_heatmaps truncates at 3 sigma)."""
    return max(1, math.ceil(3 * sigma_arg(sigma, "integral_radius") - 1e-9))


def integral_coords(heatmaps: Tensor, radius: int = 3) -> Tensor:
    """Landmark coordinates (N, K, 2) as (x, y) in heatmap pixels from heatmaps (N, K, H, W): the
    expectation of the pixel coordinates under relu(heatmap) in the (2 radius + 1)^2 window
    around each plane's first maximum (clipped at the borders).

    float32 coordinates (float64 for float64 heatmaps); the gradient flows to `heatmaps` in their
    dtype. radius: an integer >= 0, integral_radius(sigma) = ceil(3 sigma) for the training
    targets (3 at sigma 1). Bad arguments raise the op's RuntimeError (on every device and under
    torch.compile)."""
    return ops.integral_coords(heatmaps, integer_arg(radius, "radius", "integral_coords"))
