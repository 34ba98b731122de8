"""The fake kernels and the autograd formula the two heatmap -> coordinates ops share
(soft_argmax, integral_coords): op(heatmaps, param) -> (N, K, 2) coordinates in the kernels'
arithmetic dtype, and op_backward(grad, heatmaps, coords, param) -> dL/dheatmaps, which
recomputes what it needs from the saved heatmaps and coordinates."""
from typing import Callable

import torch

from ._common import opmath_dtype
from ._library import ops

__all__ = ["register_coords_op"]


def register_coords_op(name: str, check: Callable, check_backward: Callable) -> None:
    """Fake kernels (shapes after the op's own checks) and autograd of awing_ext::`name` and
    awing_ext::`name`_backward."""
    qualname = f"awing_ext::{name}"

    @torch.library.register_fake(qualname)
    def _fake(heatmaps, param):
        check(heatmaps, param)
        return heatmaps.new_empty((heatmaps.shape[0], heatmaps.shape[1], 2), dtype=opmath_dtype(heatmaps.dtype))

    @torch.library.register_fake(f"{qualname}_backward")
    def _backward_fake(grad, heatmaps, coords, param):
        check_backward(grad, heatmaps, coords, param)
        return torch.empty_like(heatmaps, memory_format=torch.contiguous_format)

    def _setup_context(ctx, inputs, output):
        heatmaps, ctx.param = inputs
        ctx.save_for_backward(heatmaps, output)

    def _backward(ctx, grad_coords):
        heatmaps, coords = ctx.saved_tensors
        return getattr(ops, f"{name}_backward")(grad_coords, heatmaps, coords, ctx.param), None

    torch.library.register_autograd(qualname, _backward, setup_context=_setup_context)
