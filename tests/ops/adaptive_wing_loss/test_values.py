"""The fused loss against the pure-PyTorch reference, scipy's dilation and hand-checked values."""
import math

import numpy as np
import pytest
import torch
from scipy.ndimage import grey_dilation

import awing_ext
from awing_ext.reference import adaptive_wing_loss_reference, loss_map_mask_reference
from helpers.heatmaps import gaussian_heatmaps

TOLERANCES = {  # (rtol, atol) against the reference, which also computes in float32/float64
    torch.float32: (1e-5, 1e-5),
    torch.float64: (1e-12, 1e-12),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1e-2),
}
SHAPES = [(1, 1, 1, 1), (1, 1, 1, 7), (1, 1, 9, 1), (2, 3, 5, 5), (3, 4, 13, 17), (2, 68, 16, 16),
          (1, 2, 64, 64), (1, 1, 31, 33)]


def _inputs(shape, dtype, device, seed=0):
    n, c, h, w = shape
    target = gaussian_heatmaps(n, c, h, w, sigma=1.0 + 0.5 * (seed % 3), seed=seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    pred = target + 0.4 * torch.randn(shape, generator=g, dtype=torch.float64)  # both branches
    return pred.to(dtype=dtype, device=device), target.to(dtype=dtype, device=device)


def _close(actual, expected, dtype):
    rtol, atol = TOLERANCES[dtype]
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", list(TOLERANCES), ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_reference(device, dtype, shape, reduction):
    pred, target = _inputs(shape, dtype, device)
    got = awing_ext.adaptive_wing_loss(pred, target, reduction=reduction)
    want = adaptive_wing_loss_reference(pred, target, reduction=reduction)
    assert got.dtype == dtype and got.shape == want.shape and got.device == pred.device
    if reduction == "none":
        _close(got, want, dtype)
    else:  # the kernel sums in double; compare with the reference summed in double
        # (cast to the input dtype: a float16 sum may overflow to inf in both)
        want64 = adaptive_wing_loss_reference(pred.double(), target.double(), reduction=reduction).to(dtype)
        rtol = 1e-6 if dtype in (torch.float32, torch.float64) else TOLERANCES[dtype][0]
        assert math.isclose(got.double().item(), want64.double().item(), rel_tol=rtol, abs_tol=1e-9)


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5])
def test_weight_mask_equals_scipy_grey_dilation(device, kernel_size, threshold):
    """Recover W*M + 1 from the loss map and compare M with scipy, borders included."""
    pred, target = _inputs((2, 3, 11, 14), torch.float64, device, seed=kernel_size)
    target[0, 0, 0, 0] = 0.9  # peaks on the border and in a corner
    target[1, 2, -1, 5] = 0.7
    weighted = awing_ext.adaptive_wing_loss(pred, target, W=10.0, threshold=threshold,
                                            kernel_size=kernel_size, reduction="none")
    plain = awing_ext.adaptive_wing_loss(pred, target, weights=torch.ones_like(target), reduction="none")
    mask = ((weighted / plain - 1) / 10).round().cpu().numpy()
    t = target.cpu().numpy()
    expected = np.stack([np.stack([grey_dilation(t[i, j], size=(kernel_size, kernel_size)) > threshold
                                   for j in range(t.shape[1])]) for i in range(t.shape[0])])
    np.testing.assert_array_equal(mask, expected.astype(np.float64))


def test_reference_mask_equals_scipy():
    target = gaussian_heatmaps(2, 4, 9, 12, seed=3, dtype=torch.float64)
    got = loss_map_mask_reference(target, 0.2, 5).numpy()
    t = target.numpy()
    want = np.stack([np.stack([grey_dilation(t[i, j], size=(5, 5)) > 0.2 for j in range(4)]) for i in range(2)])
    np.testing.assert_array_equal(got, want.astype(np.float64))


def test_hand_checked_values():
    """Pixels checked by hand from the paper's formula (omega=14, theta=0.5, eps=1, alpha=2.1)."""
    target = torch.zeros(1, 1, 1, 3, dtype=torch.float64)
    pred = torch.tensor([0.0, 0.1, 1.0], dtype=torch.float64).view(1, 1, 1, 3)
    got = awing_ext.adaptive_wing_loss(pred, target, reduction="none").flatten()
    # y = 0 everywhere, no pixel above the threshold: weight 1.
    # d = 0:   0.  d = 0.1: 14 ln(1 + 0.1^2.1).
    # d = 1 >= theta: A = 14 * 2.1 * 0.5^1.1 / (1 + 0.5^2.1), C = 0.5 A - 14 ln(1 + 0.5^2.1).
    a = 14 * 2.1 * 0.5**1.1 / (1 + 0.5**2.1)
    c = 0.5 * a - 14 * math.log(1 + 0.5**2.1)
    expected = [0.0, 14 * math.log(1 + 0.1**2.1), a * 1.0 - c]
    for g, e in zip(got.tolist(), expected):
        assert math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-15)
    # A target pixel of 1 makes its 3x3 neighbourhood weigh W + 1 = 11.
    target[0, 0, 0, 1] = 1.0
    pred = target.clone()
    pred[0, 0, 0, 0] = 0.1
    got = awing_ext.adaptive_wing_loss(pred, target, reduction="none").flatten()
    assert math.isclose(got[0].item(), 11 * 14 * math.log(1 + 0.1**2.1), rel_tol=1e-12)


def test_loss_is_continuous_at_theta(device):
    target = torch.full((1, 1, 1, 2), 0.3, dtype=torch.float64, device=device)
    eps = 1e-9
    pred = target + torch.tensor([0.5 - eps, 0.5 + eps], dtype=torch.float64, device=device).view(1, 1, 1, 2)
    loss = awing_ext.adaptive_wing_loss(pred, target, reduction="none").flatten()
    assert abs(loss[0].item() - loss[1].item()) < 1e-6


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_target_weight_and_weights(device, reduction):
    pred, target = _inputs((3, 5, 8, 9), torch.float32, device, seed=4)
    tw = torch.rand(3, 5, device=device)
    tw[0, 1] = 0  # an invisible landmark
    wm = 1 + 3 * torch.rand_like(pred)
    got = awing_ext.adaptive_wing_loss(pred, target, tw, reduction=reduction, weights=wm)
    want = adaptive_wing_loss_reference(pred, target, tw, reduction=reduction, weights=wm)
    _close(got, want, torch.float32)
    got = awing_ext.adaptive_wing_loss(pred, target, tw, reduction=reduction)
    want = adaptive_wing_loss_reference(pred, target, tw, reduction=reduction)
    _close(got, want, torch.float32)


@pytest.mark.parametrize("params", [dict(omega=10, theta=0.3, epsilon=0.5, alpha=2.5, W=5, threshold=0.4),
                                    dict(omega=1, theta=2.0, epsilon=2.0, alpha=2.1, W=0, threshold=0.1)])
def test_custom_parameters(device, params):
    pred, target = _inputs((2, 3, 10, 10), torch.float64, device, seed=7)
    for reduction in ("none", "sum"):
        got = awing_ext.adaptive_wing_loss(pred, target, reduction=reduction, **params)
        want = adaptive_wing_loss_reference(pred, target, reduction=reduction, **params)
        _close(got, want, torch.float64)


def test_non_contiguous_inputs(device):
    pred, target = _inputs((2, 3, 12, 10), torch.float32, device, seed=5)
    pred_t, target_t = pred.transpose(2, 3), target.transpose(2, 3)  # (2, 3, 10, 12), strided
    assert not pred_t.is_contiguous()
    got = awing_ext.adaptive_wing_loss(pred_t, target_t, reduction="none")
    want = adaptive_wing_loss_reference(pred_t.contiguous(), target_t.contiguous(), reduction="none")
    _close(got, want, torch.float32)
    sliced = pred[:, ::2]
    got = awing_ext.adaptive_wing_loss(sliced, target[:, ::2])
    want = adaptive_wing_loss_reference(sliced, target[:, ::2])
    _close(got, want, torch.float32)


def test_channels_last_input(device):
    pred, target = _inputs((2, 4, 6, 7), torch.float32, device, seed=6)
    got = awing_ext.adaptive_wing_loss(pred.to(memory_format=torch.channels_last),
                                       target.to(memory_format=torch.channels_last), reduction="none")
    _close(got, adaptive_wing_loss_reference(pred, target, reduction="none"), torch.float32)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 4), (2, 3, 4, 0)], ids=str)
def test_empty_inputs(device, shape):
    """Documented: 'none' gives an empty map, 'sum' 0, 'mean' NaN (as torch's losses); grads are empty."""
    pred = torch.zeros(shape, device=device, requires_grad=True)
    target = torch.zeros(shape, device=device)
    assert awing_ext.adaptive_wing_loss(pred, target, reduction="none").shape == shape
    assert awing_ext.adaptive_wing_loss(pred, target, reduction="sum").item() == 0.0
    loss = awing_ext.adaptive_wing_loss(pred, target, reduction="mean")
    assert math.isnan(loss.item())
    awing_ext.adaptive_wing_loss(pred, target, reduction="sum").backward()
    assert pred.grad.shape == shape


def test_nan_propagates(device):
    pred, target = _inputs((1, 2, 6, 6), torch.float32, device, seed=8)
    pred = pred.clone().requires_grad_(True)
    with torch.no_grad():
        pred[0, 0, 2, 3] = float("nan")
    loss_map = awing_ext.adaptive_wing_loss(pred, target, reduction="none")
    nan = torch.isnan(loss_map)
    assert nan[0, 0, 2, 3] and nan.sum() == 1
    loss = awing_ext.adaptive_wing_loss(pred, target)
    assert torch.isnan(loss)
    loss.backward()
    assert torch.isnan(pred.grad[0, 0, 2, 3]) and torch.isnan(pred.grad).sum() == 1
    target = target.clone()
    target[0, 1, 0, 0] = float("nan")
    assert torch.isnan(awing_ext.adaptive_wing_loss(pred.detach(), target, reduction="sum"))


def test_module_matches_functional(device):
    pred, target = _inputs((2, 3, 8, 8), torch.float32, device, seed=9)
    crit = awing_ext.AdaptiveWingLoss(omega=12, theta=0.4, epsilon=1.5, alpha=2.2, W=8,
                                      threshold=0.3, kernel_size=5, reduction="sum")
    want = awing_ext.adaptive_wing_loss(pred, target, omega=12, theta=0.4, epsilon=1.5, alpha=2.2, W=8,
                                        threshold=0.3, kernel_size=5, reduction="sum")
    assert torch.equal(crit(pred, target), want)
    assert "kernel_size=5" in repr(crit)


def test_float32_accuracy_over_the_dynamic_range(device):
    """The CPU float lanes use fast exp/log; check relative accuracy from |d| = 1e-30 (subnormal
    powers) to 10 against the float64 formula, for background and peak targets."""
    d = torch.logspace(-30, 1, 4000, dtype=torch.float64)
    for y in (0.0, 0.37, 1.0):
        target = torch.full_like(d, y).view(1, 1, 40, 100)
        pred = (target + d.view(1, 1, 40, 100) * torch.where(torch.arange(4000) % 2 == 0, 1.0, -1.0).view(1, 1, 40, 100))
        pred32, target32 = pred.float(), target.float()
        want = adaptive_wing_loss_reference(pred32.double(), target32.double(),
                                            weights=torch.ones_like(pred), reduction="none")
        got = awing_ext.adaptive_wing_loss(pred32.to(device), target32.to(device),
                                           weights=torch.ones_like(pred32).to(device), reduction="none")
        # float32 rounding of pred - target inside the kernel costs up to ~1e-7 relative in d;
        # losses below float32's normal range (omega * 1.2e-38) may flush to 0
        torch.testing.assert_close(got.double().cpu(), want, rtol=2e-5, atol=1e-36)


def test_reference_gradient_at_zero_difference_is_zero_where_alpha_minus_y_is_below_one():
    """alpha - y < 1 gives (d/eps)^(alpha - y) an infinite slope at d = 0; the reference returns the
    kernel's 0 (the subgradient of a loss symmetric in d), not autograd's 0 * inf = NaN."""
    target = torch.tensor([1.5, 1.2, 0.5, 0.0], dtype=torch.float64).view(1, 1, 1, 4)  # alpha - y = 0.6, 0.9, 1.6, 2.1
    pred = target.clone().requires_grad_(True)
    loss = adaptive_wing_loss_reference(pred, target, W=0.0, reduction="sum")
    loss.backward()
    assert loss.item() == 0.0 and pred.grad.tolist() == [[[[0.0, 0.0, 0.0, 0.0]]]]
    kernel_pred = target.clone().requires_grad_(True)
    awing_ext.adaptive_wing_loss(kernel_pred, target, W=0.0, reduction="sum").backward()
    assert torch.equal(kernel_pred.grad, pred.grad)


@pytest.mark.parametrize("bad", [3.7, 3.0, "3", None])
def test_kernel_size_must_be_an_integer(bad):
    x = torch.rand(1, 1, 4, 4)
    for call in (lambda: awing_ext.adaptive_wing_loss(x, x, kernel_size=bad),
                 lambda: awing_ext.loss_map_mask(x, kernel_size=bad),
                 lambda: awing_ext.AdaptiveWingLoss(kernel_size=bad)):
        with pytest.raises(TypeError, match=r"kernel_size must be an integer, got "):
            call()
