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
only: target, target_weight and weight_map are treated as constants (labels).
"""
from typing import Optional

import torch
from torch import Tensor

from ._common import REDUCTIONS, check_reduction, integer_arg, opmath_dtype
from ._library import MAX_KERNEL_SIZE, ops

__all__ = ["adaptive_wing_loss", "AdaptiveWingLoss"]

_OP = "awing_ext::adaptive_wing_loss"


@torch.library.register_fake(_OP)
def _adaptive_wing_loss_fake(pred, target, target_weight, weight_map, omega, theta, epsilon, alpha,
                             weight, threshold, kernel_size, reduction, compute_grad):
    # The same checks as the kernels' (csrc/include/awing/adaptive_wing_loss.h), for tracing and mixed devices.
    op = "adaptive_wing_loss"
    torch._check(pred.dim() == 4, lambda: f"{op}: pred must be 4-D (N, C, H, W), got {pred.dim()}-D")
    torch._check(target.shape == pred.shape, lambda: f"{op}: target must have the shape of pred {tuple(pred.shape)}")
    torch._check(target.dtype == pred.dtype, lambda: f"{op}: target must have the dtype of pred ({pred.dtype})")
    for name, t in (("target", target), ("target_weight", target_weight), ("weight_map", weight_map)):
        torch._check(t is None or t.device == pred.device,
                     lambda: f"{op}: {name} must be on the device of pred ({pred.device}), got {t.device}")
    torch._check(reduction in REDUCTIONS, lambda: f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    loss = pred.new_empty(pred.shape) if reduction == "none" else pred.new_empty(())
    grad = pred.new_empty(pred.shape if compute_grad else (0,), dtype=opmath_dtype(pred.dtype))
    return loss, grad


def _setup_context(ctx, inputs, output):
    ctx.pred_dtype = inputs[0].dtype
    ctx.pred_numel = inputs[0].numel()
    _, grad = output
    ctx.save_for_backward(grad)
    ctx.mark_non_differentiable(grad)


def _backward(ctx, grad_loss, _unused):
    (grad,) = ctx.saved_tensors
    if grad.numel() != ctx.pred_numel:
        raise RuntimeError(
            "adaptive_wing_loss: backward needs the derivative from the forward pass, which was "
            "called with compute_grad=False; call awing_ext.adaptive_wing_loss instead of the raw op")
    grad_pred = (grad * grad_loss).to(ctx.pred_dtype)
    return (grad_pred,) + (None,) * 12


torch.library.register_autograd(_OP, _backward, setup_context=_setup_context)


def adaptive_wing_loss(pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None, *,
                       omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0,
                       alpha: float = 2.1, W: float = 10.0, threshold: float = 0.2,
                       kernel_size: int = 3, reduction: str = "mean",
                       weight_map: Optional[Tensor] = None) -> Tensor:
    """Adaptive Wing loss of heatmaps `pred` against `target`, both (N, C, H, W).

    Args:
        pred, target: same shape, dtype (float32/64, float16, bfloat16) and device. Arithmetic is
            float32 (float64 for float64 inputs); sums accumulate in double on the CPU and in a
            fixed-order tree on CUDA, so the result is bitwise reproducible.
        target_weight: optional (N, C) per-landmark weights (e.g. 0 for invisible points).
        omega, theta, epsilon, alpha: the loss parameters (paper defaults).
        W, threshold, kernel_size: the loss-map weight W*M + 1 with M = dilate_k(target) > threshold.
        reduction: "mean" (default), "sum" or "none"; see the module docstring.
        weight_map: optional explicit (N, C, H, W) weight replacing W*M + 1.
    """
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("adaptive_wing_loss: pred and target must be torch.Tensor, got "
                        f"{type(pred).__name__} and {type(target).__name__}")
    check_reduction(reduction, "adaptive_wing_loss")
    grad_mode = torch.is_grad_enabled()
    if grad_mode and target.requires_grad:
        raise RuntimeError("adaptive_wing_loss: the target is a label and gets no gradient; "
                           "pass target.detach()")
    compute_grad = grad_mode and pred.requires_grad
    loss, _ = ops.adaptive_wing_loss(pred, target, target_weight, weight_map, float(omega), float(theta),
                                     float(epsilon), float(alpha), float(W), float(threshold),
                                     integer_arg(kernel_size, "kernel_size", "adaptive_wing_loss"), reduction,
                                     compute_grad)
    return loss


class AdaptiveWingLoss(torch.nn.Module):
    """Module form of :func:`adaptive_wing_loss`; call as ``crit(pred, target, target_weight=None)``."""

    def __init__(self, omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0, alpha: float = 2.1,
                 W: float = 10.0, threshold: float = 0.2, kernel_size: int = 3, reduction: str = "mean"):
        super().__init__()
        kernel_size = integer_arg(kernel_size, "kernel_size", "AdaptiveWingLoss")
        if theta <= 0 or epsilon <= 0 or omega <= 0:
            raise ValueError(f"AdaptiveWingLoss: omega, theta and epsilon must be > 0, "
                             f"got omega={omega}, theta={theta}, epsilon={epsilon}")
        if kernel_size <= 0 or kernel_size % 2 == 0 or kernel_size > MAX_KERNEL_SIZE:
            raise ValueError(f"AdaptiveWingLoss: kernel_size must be a positive odd integer <= {MAX_KERNEL_SIZE}, "
                             f"got {kernel_size}")
        check_reduction(reduction, "AdaptiveWingLoss")
        self.omega, self.theta, self.epsilon, self.alpha = omega, theta, epsilon, alpha
        self.W, self.threshold, self.kernel_size, self.reduction = W, threshold, kernel_size, reduction

    def forward(self, pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None,
                weight_map: Optional[Tensor] = None) -> Tensor:
        return adaptive_wing_loss(pred, target, target_weight, omega=self.omega, theta=self.theta,
                                  epsilon=self.epsilon, alpha=self.alpha, W=self.W,
                                  threshold=self.threshold, kernel_size=self.kernel_size,
                                  reduction=self.reduction, weight_map=weight_map)

    def extra_repr(self) -> str:
        return (f"omega={self.omega}, theta={self.theta}, epsilon={self.epsilon}, alpha={self.alpha}, "
                f"W={self.W}, threshold={self.threshold}, kernel_size={self.kernel_size}, "
                f"reduction={self.reduction!r}")
