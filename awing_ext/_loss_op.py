"""The fake kernel and the autograd formula every heatmap-loss op shares: the ops take
(pred, target, target_weight, weights, *params, W, threshold, kernel_size, reduction,
compute_grad) and return (loss, dLoss/dpred); backward scales the saved derivative."""
from typing import Callable

import torch

from ._common import opmath_dtype

__all__ = ["register_loss_op"]


def register_loss_op(name: str, check: Callable) -> None:
    """The fake kernel (shapes after `check`) and the autograd formula of op awing_ext::`name`,
    whose arguments are (pred, target, target_weight, weights, *params, W, threshold, kernel_size,
    reduction, compute_grad) and whose outputs are (loss, dLoss/dpred)."""
    qualname = f"awing_ext::{name}"

    @torch.library.register_fake(qualname)
    def _fake(pred, target, *args):
        reduction, compute_grad = args[-2], args[-1]
        check(pred, target, *args[:-1])
        loss = pred.new_empty(pred.shape) if reduction == "none" else pred.new_empty(())
        grad = pred.new_empty(pred.shape if compute_grad else (0,), dtype=opmath_dtype(pred.dtype))
        return loss, grad

    def _setup_context(ctx, inputs, output):
        ctx.pred_dtype = inputs[0].dtype
        ctx.pred_numel = inputs[0].numel()
        ctx.num_inputs = len(inputs)
        _, grad = output
        ctx.save_for_backward(grad)
        ctx.mark_non_differentiable(grad)

    def _backward(ctx, grad_loss, _unused):
        (grad,) = ctx.saved_tensors
        if grad.numel() != ctx.pred_numel:
            raise RuntimeError(f"{name}: backward needs the derivative from the forward pass, which was called "
                               f"with compute_grad=False; call awing_ext.{name} instead of the raw op")
        return ((grad * grad_loss).to(ctx.pred_dtype),) + (None,) * (ctx.num_inputs - 1)

    torch.library.register_autograd(qualname, _backward, setup_context=_setup_context)
