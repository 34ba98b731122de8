"""The Adaptive Wing loss (Wang, Bo, Fuxin, ICCV 2019) as a fused torch op.

Per pixel, with y the target heatmap, p the prediction and d = |y - p|::

    L = omega * ln(1 + (d / epsilon) ** (alpha - y))   if d < theta
    L = A * d - C                                      otherwise

with A and C chosen so that L and dL/dd are continuous at d = theta. Each pixel's loss is
multiplied by W * M + 1 where M = 1 where the k x k grey dilation of the target is > threshold
(scipy.ndimage.grey_dilation semantics), computed inside the kernel, and optionally by a
per-landmark weight target_weight[n, c].

Reductions:
  * "none": the weighted loss map, shape (N, C, H, W).
  * "sum":  the sum of that map; 0 for empty inputs; +-inf when it overflows the dtype (as
            torch's own sums do; accumulation is in double, so only the final value can overflow).
  * "mean": the sum divided by N*C*H*W (the paper's choice); NaN for empty inputs, as torch's losses.

One kernel pass computes the loss and, when pred needs a gradient, dLoss/dpred; backward only
scales that saved derivative by grad_output. The op is differentiable once, with respect to pred
only: target, target_weight and weights are treated as constants (labels).

Arguments are validated once, in C++ (check_adaptive_wing_loss_args,
csrc/include/awing/adaptive_wing_loss.h): by the kernels and by the fake kernel below, so a bad
argument fails with the same RuntimeError on CPU, CUDA and under torch.compile. AdaptiveWingLoss
runs the same check when it is built and raises it as a ValueError.
"""
from typing import Optional

import torch
from torch import Tensor

from ._common import integer_arg, warn_renamed
from ._library import _C
from ._loss_op import register_loss_op, run_loss_op

__all__ = ["adaptive_wing_loss", "AdaptiveWingLoss"]


register_loss_op("adaptive_wing_loss", _C.check_adaptive_wing_loss_args)


def _weights_arg(weights: Optional[Tensor], weight_map: Optional[Tensor]) -> Optional[Tensor]:
    """`weights`, or the deprecated `weight_map=` spelling of it (with a DeprecationWarning)."""
    if weight_map is None:
        return weights
    warn_renamed("adaptive_wing_loss(weight_map=...)", "weights=... (awing_ext.loss_map_mask is the 0/1 mask M)",
                 stacklevel=4)
    if weights is not None:
        raise TypeError("adaptive_wing_loss: got both weights and its deprecated name weight_map; pass weights")
    return weight_map


def adaptive_wing_loss(pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None, *,
                       omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0,
                       alpha: float = 2.1, W: float = 10.0, threshold: float = 0.2,
                       kernel_size: int = 3, reduction: str = "mean",
                       weights: Optional[Tensor] = None, weight_map: Optional[Tensor] = None) -> Tensor:
    """Adaptive Wing loss of heatmaps `pred` against `target`, both (N, C, H, W).

    Args:
        pred, target: same shape, dtype (float32/64, float16, bfloat16) and device. Arithmetic is
            float32 (float64 for float64 inputs); sums accumulate in double on the CPU and in a
            fixed-order tree on CUDA, so the result is bitwise reproducible.
        target_weight: optional (N, C) per-landmark weights (e.g. 0 for invisible points).
        omega, theta, epsilon, alpha: the loss parameters (paper defaults); omega, theta,
            epsilon > 0; alpha a finite number > 0.
        W, threshold, kernel_size: the loss-map weight W*M + 1 (W >= 0; 0: weight 1 everywhere) with M = dilate_k(target) > threshold
            (awing_ext.loss_map_mask); kernel_size odd, 1..MAX_KERNEL_SIZE.
        reduction: "mean" (default), "sum" or "none"; see the module docstring.
        weights: optional explicit (N, C, H, W) per-pixel weight replacing W*M + 1.
        weight_map: deprecated name of `weights` (removed in awing 0.4).
    Raises RuntimeError for a bad argument (the kernels' check, see the module docstring).
    """
    return run_loss_op("adaptive_wing_loss", pred, target, (omega, theta, epsilon, alpha), target_weight,
                       _weights_arg(weights, weight_map), W, threshold, kernel_size, reduction)


class AdaptiveWingLoss(torch.nn.Module):
    """Module form of :func:`adaptive_wing_loss`; call as ``crit(pred, target, target_weight=None)``.

    The parameters are checked when the module is built, by the op's own check
    (awing_ext._C.check_adaptive_wing_loss_params): a bad one is a ValueError with its message.
    """

    def __init__(self, omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0, alpha: float = 2.1,
                 W: float = 10.0, threshold: float = 0.2, kernel_size: int = 3, reduction: str = "mean"):
        super().__init__()
        kernel_size = integer_arg(kernel_size, "kernel_size", "AdaptiveWingLoss")
        try:
            _C.check_adaptive_wing_loss_params(float(omega), float(theta), float(epsilon), float(alpha), float(W),
                                               float(threshold), kernel_size, reduction)
        except RuntimeError as exc:
            raise ValueError(f"AdaptiveWingLoss: {exc}") from None
        self.omega, self.theta, self.epsilon, self.alpha = omega, theta, epsilon, alpha
        self.W, self.threshold, self.kernel_size, self.reduction = W, threshold, kernel_size, reduction

    def forward(self, pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None,
                weights: Optional[Tensor] = None, weight_map: Optional[Tensor] = None) -> Tensor:
        return adaptive_wing_loss(pred, target, target_weight, omega=self.omega, theta=self.theta,
                                  epsilon=self.epsilon, alpha=self.alpha, W=self.W,
                                  threshold=self.threshold, kernel_size=self.kernel_size,
                                  reduction=self.reduction, weights=weights, weight_map=weight_map)

    def extra_repr(self) -> str:
        return (f"omega={self.omega}, theta={self.theta}, epsilon={self.epsilon}, alpha={self.alpha}, "
                f"W={self.W}, threshold={self.threshold}, kernel_size={self.kernel_size}, "
                f"reduction={self.reduction!r}")
