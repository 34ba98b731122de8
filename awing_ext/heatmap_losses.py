"""The heatmap-loss family beside the Adaptive Wing loss, as fused torch ops on AWing's kernel.

Each loss runs the kernel skeleton of :func:`awing_ext.adaptive_wing_loss` (one pass computing
the per-pixel loss, its weight and, when pred needs a gradient, dLoss/dpred; CPU vectorised and
CUDA; sums accumulated in double in a fixed order, so results are bitwise reproducible) with its
own per-pixel value and derivative (csrc/include/awing/losses/<loss>.h):

=======================  ===============================================================
``mse_loss``             (p - y)^2
``l1_loss``              |p - y|
``smooth_l1_loss``       torch's smooth L1: 0.5 d^2 / beta if d < beta, else d - 0.5 beta
``wing_loss``            Feng et al., CVPR 2018: omega ln(1 + d / epsilon) if d < omega, else d - C
``focal_heatmap_loss``   CornerNet's penalty-reduced focal loss on logits (Law & Deng, ECCV 2018)
=======================  ===============================================================

Every pixel's loss is multiplied by AWing's weighted loss map W * M + 1, M = 1 where the
kernel_size x kernel_size grey dilation of the target is > threshold (``W=0`` turns it off:
weight 1 everywhere), or by an explicit per-pixel ``weights``, and by the optional per-landmark
``target_weight[n, c]``. Reductions as for adaptive_wing_loss: "none" (the weighted loss map),
"sum" (0 for empty inputs), "mean" (the sum over N*C*H*W; NaN for empty inputs); the focal loss's
"mean" divides by the planes holding a positive pixel instead (see focal_heatmap_loss). Differentiable
once with respect to pred only. Arguments are checked once, in C++, by the kernels and by the
fake kernels (so CPU, CUDA and torch.compile fail alike, with a RuntimeError naming the argument).
"""
from typing import Optional

from torch import Tensor

from ._library import _C
from ._loss_op import register_loss_op as _register
from ._loss_op import run_loss_op as _run

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "wing_loss", "focal_heatmap_loss"]


_register("mse_loss", _C.check_mse_loss_args)
_register("l1_loss", _C.check_l1_loss_args)
_register("smooth_l1_loss", _C.check_smooth_l1_loss_args)
_register("wing_loss", _C.check_wing_loss_args)
_register("focal_heatmap_loss", _C.check_focal_heatmap_loss_args)


def mse_loss(pred: Tensor, target: Tensor, *, W: float = 10.0, threshold: float = 0.2, kernel_size: int = 3,
             target_weight: Optional[Tensor] = None, reduction: str = "mean",
             weights: Optional[Tensor] = None) -> Tensor:
    """Squared error (p - y)^2 of heatmaps (N, C, H, W), weighted and reduced as the module
    docstring says. With ``W=0`` and "mean" it is torch.nn.functional.mse_loss."""
    return _run("mse_loss", pred, target, (), target_weight, weights, W, threshold, kernel_size, reduction)


def l1_loss(pred: Tensor, target: Tensor, *, W: float = 10.0, threshold: float = 0.2, kernel_size: int = 3,
            target_weight: Optional[Tensor] = None, reduction: str = "mean",
            weights: Optional[Tensor] = None) -> Tensor:
    """Absolute error |p - y| (derivative sign(p - y), 0 where p == y, as torch's l1_loss)."""
    return _run("l1_loss", pred, target, (), target_weight, weights, W, threshold, kernel_size, reduction)


def smooth_l1_loss(pred: Tensor, target: Tensor, *, beta: float = 1.0, W: float = 10.0, threshold: float = 0.2,
                   kernel_size: int = 3, target_weight: Optional[Tensor] = None, reduction: str = "mean",
                   weights: Optional[Tensor] = None) -> Tensor:
    """torch's smooth L1 (torch.nn.functional.smooth_l1_loss, same beta and default): with
    d = |p - y|, 0.5 d^2 / beta where d < beta, else d - 0.5 beta; beta = 0 is the L1 loss; beta >= 0.
    Heatmap differences are at most about 1, so beta = 1 is half the squared error everywhere;
    a smaller beta (training's default is 0.1) gives the L1 tail its role."""
    return _run("smooth_l1_loss", pred, target, (beta,), target_weight, weights, W, threshold, kernel_size, reduction)


def wing_loss(pred: Tensor, target: Tensor, *, omega: float = 14.0, epsilon: float = 1.0, W: float = 10.0,
              threshold: float = 0.2, kernel_size: int = 3, target_weight: Optional[Tensor] = None,
              reduction: str = "mean", weights: Optional[Tensor] = None) -> Tensor:
    """The Wing loss (Feng et al., CVPR 2018): with d = |p - y|, omega ln(1 + d / epsilon) where
    d < omega, else d - C (C = omega - omega ln(1 + omega / epsilon): continuous at omega);
    omega, epsilon > 0.

    Defaults: Feng et al. chose omega = 10, epsilon = 2 for coordinates in pixels, where errors of
    tens of pixels reach the linear part. Heatmap differences lie in [0, 1], so here the defaults
    are AWing's omega = 14 and epsilon = 1 (Wang et al., ICCV 2019, sec. 4.1): the same scale as the
    Adaptive Wing loss, from which Wing then differs only by its constant exponent (1 instead of
    alpha - y) and the missing linear part beyond theta, which is what the AWing paper compares.
    """
    return _run("wing_loss", pred, target, (omega, epsilon), target_weight, weights, W, threshold, kernel_size,
                reduction)


def focal_heatmap_loss(logits: Tensor, target: Tensor, *, alpha: float = 2.0, beta: float = 4.0,
                       positive_threshold: float = 0.75, W: float = 10.0, threshold: float = 0.2,
                       kernel_size: int = 3, target_weight: Optional[Tensor] = None, reduction: str = "mean",
                       weights: Optional[Tensor] = None) -> Tensor:
    """CornerNet's penalty-reduced focal loss (Law & Deng, ECCV 2018, eq. 1) on *logits*, the
    sigmoid fused: with p = sigmoid(logits), where target >= positive_threshold

        -(1 - p)^alpha log(p),

    elsewhere -(1 - y)^beta p^alpha log(1 - p); evaluated through softplus, so any finite logit
    gives a finite loss. alpha, beta >= 0; positive_threshold in (0, 1].

    positive_threshold: CornerNet's positives are the pixels where the Gaussian target is exactly
    1, but a landmark with a sub-pixel centre renders a peak below 1 (down to exp(-1/(4 sigma^2))
    ~ 0.78 for sigma = 1 with the centre between four pixels), so with 1 a plane could have no
    positive at all. The default 0.75 makes every visible landmark (sigma = 1) have between one
    and four positive pixels, those within 0.76 px of its centre.

    Reductions: "mean" divides the (weighted) sum by the number of planes (n, c) that hold a
    positive pixel, at least 1 (a batch without positives gives the plain sum). For landmark
    heatmaps that is the number of visible landmarks: CornerNet's "number of objects" (its
    targets have one positive per object; here a landmark has 1-4, and dividing by them would
    weigh each landmark by where its centre falls on the pixel grid). "sum" is the plain sum and
    "none" the per-pixel map, neither normalised. Training calls it once for the landmark
    channels and once for the boundary channel (docs/losses.md, "Focal").

    The model must output logits (no sigmoid or ReLU on the last layer): passing probabilities
    in [0, 1] still runs but treats them as logits (sigmoid(0.5) = 0.62), which is a wrong loss,
    not an error the op can detect. Decode the heatmaps of a model trained with it from
    sigmoid(logits) or from the logits themselves (argmax-based decoding is unchanged by the
    monotone sigmoid)."""
    return _run("focal_heatmap_loss", logits, target, (alpha, beta, positive_threshold), target_weight, weights, W,
                threshold, kernel_size, reduction)
