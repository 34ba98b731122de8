"""Pure-PyTorch references, written straight from the paper's formulas.

For tests and benchmarks only: the package never falls back to these. They upcast to float32
(float64 for float64 inputs), like the kernels, and use autograd for gradients.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["weight_mask_reference", "adaptive_wing_loss_reference"]


def _opmath(t: Tensor) -> Tensor:
    return t.double() if t.dtype == torch.float64 else t.float()


def weight_mask_reference(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """M = grey_dilation(target, size=k) > threshold per (N, C) plane, as a 0/1 tensor of target's dtype.

    max_pool2d with -inf padding is the clipped-window max, which equals scipy's reflect mode.
    """
    n, c, h, w = target.shape
    planes = _opmath(target).reshape(n * c, 1, h, w)
    dilated = F.max_pool2d(planes, kernel_size, stride=1, padding=kernel_size // 2)
    return (dilated > threshold).reshape(n, c, h, w).to(target.dtype)


def adaptive_wing_loss_reference(pred: Tensor, target: Tensor, target_weight: Optional[Tensor] = None, *,
                                 omega: float = 14.0, theta: float = 0.5, epsilon: float = 1.0,
                                 alpha: float = 2.1, W: float = 10.0, threshold: float = 0.2,
                                 kernel_size: int = 3, reduction: str = "mean",
                                 weight_map: Optional[Tensor] = None) -> Tensor:
    """The Adaptive Wing loss of Wang et al. (2019), eq. (7)-(8), with the weighted loss map.

    ln(1 + x) is evaluated with log1p, so tiny differences keep their relative accuracy.
    """
    p, y = _opmath(pred), _opmath(target)
    d = (y - p).abs()
    e = alpha - y
    ratio = theta / epsilon
    A = omega * (1 / (1 + torch.pow(ratio, e))) * e * torch.pow(ratio, e - 1) / epsilon
    C = theta * A - omega * torch.log1p(torch.pow(ratio, e))
    loss = torch.where(d < theta, omega * torch.log1p(torch.pow(d / epsilon, e)), A * d - C)
    if weight_map is None:
        weight = W * weight_mask_reference(y, threshold, kernel_size) + 1
    else:
        weight = _opmath(weight_map)
    loss = loss * weight
    if target_weight is not None:
        loss = loss * _opmath(target_weight)[:, :, None, None]
    if reduction == "none":
        out = loss
    elif reduction == "sum":
        out = loss.sum()
    elif reduction == "mean":
        out = loss.mean()
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return out.to(pred.dtype)
