"""What every heatmap-loss op shares (the Adaptive Wing loss and the family beside it): the fake
kernel and the autograd formula (the ops take (pred, target, target_weight, weights, *params, W,
threshold, kernel_size, reduction, compute_grad) and return (loss, dLoss/dpred); backward scales
the saved derivative), and run_loss_op, the one call path of their Python functions."""
from typing import Callable, Optional

import torch
from torch import Tensor

from ._common import integer_arg, opmath_dtype
from ._library import ops

__all__ = ["register_loss_op", "run_loss_op"]


def run_loss_op(name: str, pred: Tensor, target: Tensor, params: tuple, target_weight: Optional[Tensor],
                weights: Optional[Tensor], W: float, threshold: float, kernel_size: int, reduction: str) -> Tensor:
    """The loss of op awing_ext::`name` with its own `params`: the derivative is computed in the same
    kernel pass only when pred needs it; a target that requires grad is refused (a label)."""
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: pred and target must be torch.Tensor, got {type(pred).__name__} and "
                        f"{type(target).__name__}")
    grad_mode = torch.is_grad_enabled()
    if grad_mode and target.requires_grad:
        raise RuntimeError(f"{name}: the target is a label and gets no gradient; pass target.detach()")
    compute_grad = grad_mode and pred.requires_grad
    loss, _ = getattr(ops, name)(pred, target, target_weight, weights, *(float(p) for p in params), float(W),
                                 float(threshold), integer_arg(kernel_size, "kernel_size", name), reduction,
                                 compute_grad)
    return loss


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
