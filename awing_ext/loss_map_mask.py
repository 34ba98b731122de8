"""loss_map_mask: the 0/1 mask M of the Adaptive Wing loss' weighted loss map (weight W * M + 1),
the same mask the fused loss computes internally (CPU and CUDA kernels; no autograd).

`weight_map` is its old name, kept for one release: it returned this mask, not the loss's
per-pixel weights, which is why it was renamed (the loss's explicit weights are `weights=`).
"""
import torch
from torch import Tensor

from ._common import integer_arg, warn_renamed
from ._library import _C, ops

__all__ = ["loss_map_mask", "weight_map"]


@torch.library.register_fake("awing_ext::loss_map_mask")
def _loss_map_mask_fake(target, threshold, kernel_size):
    _C.check_loss_map_mask_args(target, threshold, kernel_size)
    return torch.empty_like(target, memory_format=torch.contiguous_format)


def loss_map_mask(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """The loss-map mask M of the Adaptive Wing loss: 1 where the kernel_size x kernel_size grey
    dilation of `target` (N, C, H, W) is > threshold, else 0, in target's dtype.

    Equal to ``scipy.ndimage.grey_dilation(target, size=(1, 1, k, k)) > threshold`` and to the
    mask the fused loss computes internally (loss weight = W * M + 1). NaN never counts: the
    window's other values decide, as if NaN were -inf (docs/design.md, weighted loss map).
    """
    return ops.loss_map_mask(target, float(threshold), integer_arg(kernel_size, "kernel_size", "loss_map_mask"))


def weight_map(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """Deprecated name of :func:`loss_map_mask` (the same 0/1 mask; removed in awing 0.4)."""
    warn_renamed("awing_ext.weight_map", "awing_ext.loss_map_mask")
    return loss_map_mask(target, threshold, kernel_size)
