"""weight_map: the 0/1 mask M of the Adaptive Wing loss' weighted loss map (weight W * M + 1),
the same mask the fused loss computes internally (CPU and CUDA kernels; no autograd)."""
import torch
from torch import Tensor

from ._common import integer_arg
from ._library import ops

__all__ = ["weight_map"]


@torch.library.register_fake("awing_ext::weight_map")
def _weight_map_fake(target, threshold, kernel_size):
    torch._check(target.dim() == 4, lambda: f"weight_map: target must be 4-D (N, C, H, W), got {target.dim()}-D")
    return torch.empty_like(target, memory_format=torch.contiguous_format)


def weight_map(target: Tensor, threshold: float = 0.2, kernel_size: int = 3) -> Tensor:
    """The loss-map mask M of the Adaptive Wing loss: 1 where the kernel_size x kernel_size grey
    dilation of `target` (N, C, H, W) is > threshold, else 0, in target's dtype.

    Equal to ``scipy.ndimage.grey_dilation(target, size=(1, 1, k, k)) > threshold`` and to the
    mask the fused loss computes internally (loss weight = W * M + 1). NaN never counts: the
    window's other values decide, as if NaN were -inf (docs/design.md, weighted loss map).
    """
    return ops.weight_map(target, float(threshold), integer_arg(kernel_size, "kernel_size", "weight_map"))
