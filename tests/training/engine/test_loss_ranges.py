"""The loss options' ranges (training/engine/loss_ranges.py) against the float32 kernels: each
bound is where the kernel's loss turns 0, inf or NaN, and a value inside it still learns."""
import pytest
import torch

import awing_ext
from training import train
from training.engine.loss_ranges import (FLOAT32_TINY, FOCAL_ALPHA_MAX, SMOOTH_L1_BETA_MAX, check_loss_ranges,
                                         focal_alpha, smooth_l1_beta)

# a background pixel (target 0) and a peak (target 1)
TARGET = torch.tensor([[[[0.0, 1.0]]]])


def _loss_and_grad(op, pred, **params):
    pred = pred.clone().requires_grad_()
    loss = op(pred, TARGET, W=0.0, reduction="none", **params)
    loss.sum().backward()
    return loss.detach(), pred.grad


def test_focal_alpha_bound_is_where_every_pixel_underflows_at_p_one_half():
    logits = torch.zeros(1, 1, 1, 2)   # p = 1/2, where an untrained head starts
    loss, grad = _loss_and_grad(awing_ext.focal_heatmap_loss, logits, alpha=FOCAL_ALPHA_MAX - 0.05, beta=4.0)
    assert (loss >= FLOAT32_TINY).all() and (grad.abs() > 0).all()
    loss, grad = _loss_and_grad(awing_ext.focal_heatmap_loss, logits, alpha=FOCAL_ALPHA_MAX + 0.05, beta=4.0)
    assert (loss == 0).all() and (grad == 0).all()   # what the bound refuses: nothing learned
    assert focal_alpha(f"{FOCAL_ALPHA_MAX - 0.05}") == pytest.approx(FOCAL_ALPHA_MAX - 0.05)
    with pytest.raises(Exception, match=r"must be a number in \[0, 125.471\]"):
        focal_alpha("125.5")


def test_smooth_l1_beta_bound_keeps_the_loss_at_heatmap_differences():
    pred = torch.tensor([[[[1.0, 0.0]]]])   # d = 1 on both pixels, the widest gap of heatmap values
    loss, grad = _loss_and_grad(awing_ext.smooth_l1_loss, pred, beta=SMOOTH_L1_BETA_MAX)
    assert (loss >= FLOAT32_TINY).all() and (grad.abs() > 0).all()
    loss, grad = _loss_and_grad(awing_ext.smooth_l1_loss, pred, beta=1e300)   # case 3: 1/beta is 0 in float32
    assert (loss == 0).all() and (grad == 0).all()
    assert smooth_l1_beta("0") == 0 and smooth_l1_beta(str(SMOOTH_L1_BETA_MAX)) == SMOOTH_L1_BETA_MAX
    for bad in ("1e300", "1e-40", "-1"):
        with pytest.raises(Exception, match="must be"):
            smooth_l1_beta(bad)


def test_awing_alpha_whose_loss_vanishes_everywhere_is_refused():
    pred = torch.tensor([[[[0.5, 0.5]]]])   # d = theta on both pixels: the largest near-branch loss
    args = train.parse_args([])
    assert check_loss_ranges(args) is None
    loss, _ = _loss_and_grad(awing_ext.adaptive_wing_loss, pred, alpha=1e6)
    assert (loss == 0).all()
    args.awing_alpha = 1e6
    assert "0 for every pixel" in check_loss_ranges(args)
    args.awing_alpha = 120.0   # 0.5^119 at the peak: small but a float32
    assert check_loss_ranges(args) is None
    loss, _ = _loss_and_grad(awing_ext.adaptive_wing_loss, pred, alpha=120.0)
    assert loss[0, 0, 0, 1] > 0


def test_wing_whose_slope_at_zero_overflows_is_refused():
    pred = TARGET.clone()   # d = 0: the slope omega / epsilon times sign(0)
    _, grad = _loss_and_grad(awing_ext.wing_loss, pred, omega=1e30, epsilon=1e-20)
    assert torch.isnan(grad).all()   # what the check refuses
    args = train.parse_args(["--loss", "wing"])
    args.wing_omega, args.wing_epsilon = 1e30, 1e-20
    assert "omega / epsilon" in check_loss_ranges(args)
    args.wing_omega, args.wing_epsilon = 1e18, 1e-18   # a slope of 1e36: a float32
    assert check_loss_ranges(args) is None
    _, grad = _loss_and_grad(awing_ext.wing_loss, pred, omega=1e18, epsilon=1e-18)
    assert torch.isfinite(grad).all()
