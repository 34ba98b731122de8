"""Gradients of the fused op: gradcheck in float64 and agreement with the reference's autograd."""
import pytest
import torch

import awing_ext
from awing_ext.reference import adaptive_wing_loss_reference
from helpers.heatmaps import gaussian_heatmaps


def _targets(kind, shape, device):
    n, c, h, w = shape
    g = torch.Generator().manual_seed(11)
    if kind == "random":
        t = torch.rand(shape, generator=g, dtype=torch.float64)
    else:  # rendered Gaussians: values near 0 (background) and near 1 (peaks)
        t = gaussian_heatmaps(n, c, h, w, sigma=1.2, seed=12, dtype=torch.float64)
    return t.to(device)


def _pred(target, kind):
    g = torch.Generator().manual_seed(13)
    noise = torch.randn(target.shape, generator=g, dtype=torch.float64).to(target.device)
    if kind == "near_theta":  # |d| close to theta = 0.5 on either side, never exactly on it
        sign = torch.where(noise >= 0, 1.0, -1.0)
        delta = 0.5 + 0.02 * torch.where(torch.rand(target.shape, generator=g, dtype=torch.float64) < 0.5, -1, 1)
        return (target + sign * delta.to(target.device)).requires_grad_(True)
    return (target + 0.3 * noise).requires_grad_(True)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("target_kind", ["random", "gaussian"])
@pytest.mark.parametrize("with_weight", [False, True], ids=["no_tw", "tw"])
def test_gradcheck(device, reduction, kernel_size, target_kind, with_weight):
    shape = (2, 3, 7, 6)
    target = _targets(target_kind, shape, device)
    pred = _pred(target, "normal")
    tw = torch.rand(2, 3, dtype=torch.float64, device=device) if with_weight else None
    fn = lambda p: awing_ext.adaptive_wing_loss(p, target, tw, reduction=reduction, kernel_size=kernel_size)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (pred,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradcheck_near_theta(device):
    target = _targets("gaussian", (1, 4, 6, 6), device)
    pred = _pred(target, "near_theta")
    fn = lambda p: awing_ext.adaptive_wing_loss(p, target, reduction="sum")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (pred,), eps=1e-7, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_grad_matches_reference_autograd(device, dtype, reduction):
    target = gaussian_heatmaps(2, 5, 9, 11, seed=3, dtype=dtype, device=device)
    pred = (target.float() + 0.3 * torch.randn(target.shape, device=device)).to(dtype).requires_grad_(True)
    pred_ref = pred.detach().clone().requires_grad_(True)
    tw = torch.rand(2, 5, device=device)
    out = awing_ext.adaptive_wing_loss(pred, target, tw, reduction=reduction)
    ref = adaptive_wing_loss_reference(pred_ref, target, tw, reduction=reduction)
    upstream = torch.randn_like(out.float()).to(dtype) if reduction == "none" else None
    out.backward(upstream)
    ref.backward(upstream)
    assert pred.grad.dtype == dtype
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    scale = pred_ref.grad.abs().max().item()
    torch.testing.assert_close(pred.grad.float(), pred_ref.grad.float(), rtol=tol, atol=tol * scale)


def test_zero_difference_has_zero_gradient(device):
    target = gaussian_heatmaps(1, 2, 5, 5, seed=1, device=device)
    pred = target.clone().requires_grad_(True)
    loss = awing_ext.adaptive_wing_loss(pred, target, reduction="sum")
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(pred.grad) == 0


def test_no_grad_mode_and_detached_pred(device):
    target = gaussian_heatmaps(1, 2, 5, 5, seed=1, device=device)
    pred = (target + 0.1).requires_grad_(True)
    with torch.no_grad():
        loss = awing_ext.adaptive_wing_loss(pred, target)
    assert not loss.requires_grad
    assert not awing_ext.adaptive_wing_loss(pred.detach(), target).requires_grad


def test_target_requiring_grad_is_rejected(device):
    target = gaussian_heatmaps(1, 2, 5, 5, seed=1, device=device).requires_grad_(True)
    pred = torch.zeros_like(target, requires_grad=True)
    with pytest.raises(RuntimeError, match="target.detach"):
        awing_ext.adaptive_wing_loss(pred, target)


def test_raw_op_without_saved_gradient_refuses_backward():
    target = torch.rand(1, 1, 4, 4)
    pred = torch.rand(1, 1, 4, 4, requires_grad=True)
    loss, _ = awing_ext.ops.adaptive_wing_loss(pred, target, None, None, 14.0, 0.5, 1.0, 2.1, 10.0, 0.2, 3,
                                               "mean", False)
    with pytest.raises(RuntimeError, match="compute_grad=False"):
        loss.backward()
