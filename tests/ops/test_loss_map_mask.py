"""loss_map_mask against scipy.ndimage.grey_dilation and against the fused loss' internal mask."""
import numpy as np
import pytest
import scipy.ndimage
import torch

import awing_ext
from awing_ext.reference import loss_map_mask_reference, weight_mask_reference
from helpers.heatmaps import gaussian_heatmaps

OP = torch.ops.awing_ext.loss_map_mask.default


def _scipy_mask(target: torch.Tensor, threshold: float, k: int) -> np.ndarray:
    t = target.detach().cpu().double().numpy()
    return (scipy.ndimage.grey_dilation(t, size=(1, 1, k, k)) > threshold).astype(np.float64)


@pytest.mark.parametrize("shape", [(2, 5, 64, 64), (1, 3, 7, 13), (2, 1, 1, 1), (1, 2, 40, 3)], ids=str)
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_matches_scipy(device, shape, kernel_size):
    target = gaussian_heatmaps(*shape, sigma=1.5, seed=sum(shape) + kernel_size, device=device)
    target = target * torch.rand(shape[:2] + (1, 1), device=device) * 1.2  # peaks above and below thr
    mask = awing_ext.loss_map_mask(target, 0.2, kernel_size)
    assert mask.dtype == target.dtype and mask.shape == target.shape
    np.testing.assert_array_equal(mask.cpu().double().numpy(), _scipy_mask(target, 0.2, kernel_size))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5])
def test_dtypes_thresholds(device, dtype, threshold):
    target = gaussian_heatmaps(2, 4, 19, 21, seed=3, dtype=dtype, device=device)
    mask = awing_ext.loss_map_mask(target, threshold)
    assert mask.dtype == dtype
    np.testing.assert_array_equal(mask.cpu().double().numpy(), _scipy_mask(target, threshold, 3))
    assert torch.equal(mask, loss_map_mask_reference(target, threshold, 3))


def test_strict_threshold_and_noncontiguous(device):
    t = torch.zeros(1, 1, 5, 5, device=device)
    t[0, 0, 2, 2] = 0.2
    assert awing_ext.loss_map_mask(t, 0.2).sum() == 0  # strict >
    t[0, 0, 2, 2] = 0.25
    assert awing_ext.loss_map_mask(t, 0.2).sum() == 9
    big = gaussian_heatmaps(2, 3, 12, 10, seed=4, device=device)
    view = big.transpose(2, 3)
    assert torch.equal(awing_ext.loss_map_mask(view, 0.2), loss_map_mask_reference(view.contiguous(), 0.2, 3))


def test_same_mask_as_the_loss(device):
    """Loss with its internal mask == loss with the explicit weight map W * M + 1."""
    target = gaussian_heatmaps(2, 6, 32, 32, seed=5, device=device)
    pred = target + 0.2 * torch.randn_like(target)
    internal = awing_ext.adaptive_wing_loss(pred, target, reduction="none")
    explicit = awing_ext.adaptive_wing_loss(pred, target, reduction="none",
                                            weights=10 * awing_ext.loss_map_mask(target) + 1)
    assert torch.equal(internal, explicit)


def test_opcheck(device):
    target = gaussian_heatmaps(2, 3, 8, 9, seed=6, device=device)
    torch.library.opcheck(OP, (target, 0.2, 3))
    torch.library.opcheck(OP, (target.half(), 0.1, 5))


def test_torch_compile_fullgraph(device):
    torch._dynamo.reset()
    target = gaussian_heatmaps(2, 3, 16, 16, seed=7, device=device)

    def f(t):
        return awing_ext.loss_map_mask(t + 0.0) * 10 + 1

    torch.testing.assert_close(torch.compile(f, fullgraph=True)(target), f(target))


def test_loss_map_mask_errors(device):
    t = torch.rand(2, 3, 8, 8, device=device)
    with pytest.raises(RuntimeError, match=r"target must be 4-D \(N, C, H, W\)"):
        awing_ext.loss_map_mask(t[0])
    with pytest.raises(RuntimeError, match="kernel_size must be a positive odd integer <= 31, got 2"):
        awing_ext.loss_map_mask(t, kernel_size=2)
    with pytest.raises(RuntimeError, match="kernel_size must be a positive odd integer <= 31, got -1"):
        awing_ext.loss_map_mask(t, kernel_size=-1)
    with pytest.raises(RuntimeError, match="target must be float32"):
        awing_ext.loss_map_mask(t.long())


def _scipy_mask_nan_ignored(target: torch.Tensor, threshold: float, k: int) -> np.ndarray:
    """The documented NaN rule (design.md, weighted loss map): NaN never counts, as if -inf."""
    return _scipy_mask(torch.nan_to_num(target.double(), nan=float("-inf")), threshold, k)


def test_nan_in_the_target_never_counts_and_hides_nothing(device):
    row = torch.tensor([0.9, float("nan"), 0, 0, 0], device=device).view(1, 1, 1, 5)
    assert awing_ext.loss_map_mask(row).flatten().tolist() == [1, 1, 0, 0, 0]
    assert awing_ext.loss_map_mask(torch.full((1, 1, 3, 3), float("nan"), device=device)).sum() == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_nan_targets_match_the_rule_on_every_path(device, dtype, kernel_size):
    """loss_map_mask and the fused loss's own mask agree with scipy on the NaN-as--inf target,
    over rows wider than one SIMD vector (the vector and tail paths)."""
    target = gaussian_heatmaps(2, 3, 11, 37, sigma=1.5, seed=kernel_size, device=device)
    g = torch.Generator().manual_seed(kernel_size)
    holes = (torch.rand(target.shape, generator=g) < 0.15).to(device)
    target = target.masked_fill(holes, float("nan")).to(dtype)
    expected = _scipy_mask_nan_ignored(target, 0.2, kernel_size)
    mask = awing_ext.loss_map_mask(target, 0.2, kernel_size)
    np.testing.assert_array_equal(mask.cpu().double().numpy(), expected)
    assert torch.equal(loss_map_mask_reference(target, 0.2, kernel_size), mask)
    # The fused loss weights each finite pixel by W*M + 1 with that same M (pred = target + 0.5 has
    # d = 0.5 = theta everywhere: one loss value per target value).
    pred = torch.nan_to_num(target, nan=0.0) + 0.5
    unweighted = awing_ext.adaptive_wing_loss(pred, target, W=0.0, reduction="none", kernel_size=kernel_size)
    weighted = awing_ext.adaptive_wing_loss(pred, target, W=10.0, reduction="none", kernel_size=kernel_size)
    finite = ~torch.isnan(target)
    ratio = (weighted[finite] / unweighted[finite]).double().cpu().numpy()
    np.testing.assert_allclose(ratio, 10 * expected[finite.cpu().numpy()] + 1, rtol=1e-2 if dtype == torch.bfloat16 else 1e-6)


def test_deprecated_names_warn_and_agree(device):
    """weight_map (the mask's old name) and the loss's weight_map= (now weights=) still work for
    one release, with a DeprecationWarning; passing both spellings is an error."""
    target = gaussian_heatmaps(2, 3, 16, 16).to(device)
    pred = torch.rand_like(target)
    with pytest.warns(DeprecationWarning, match="awing_ext.weight_map is deprecated.*loss_map_mask"):
        old = awing_ext.weight_map(target, 0.2, 3)
    assert torch.equal(old, awing_ext.loss_map_mask(target, 0.2, 3))
    with pytest.warns(DeprecationWarning, match="weight_mask_reference is deprecated"):
        assert torch.equal(weight_mask_reference(target, 0.2, 3), old)
    weights = 5 * old + 1
    new = awing_ext.adaptive_wing_loss(pred, target, weights=weights)
    with pytest.warns(DeprecationWarning, match=r"weight_map=\.\.\.\) is deprecated.*weights="):
        assert torch.equal(awing_ext.adaptive_wing_loss(pred, target, weight_map=weights), new)
    with pytest.warns(DeprecationWarning):
        assert torch.equal(awing_ext.AdaptiveWingLoss()(pred, target, weight_map=weights), new)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="got both weights and"):
        awing_ext.adaptive_wing_loss(pred, target, weights=weights, weight_map=weights)


def test_a_nan_threshold_is_refused_as_the_loss_refuses_it():
    """Issue 26: the mask accepted a NaN threshold that the loss ops refuse (a NaN compares
    false, so the mask would be all zeros without a word)."""
    target = torch.rand(1, 1, 5, 5)
    with pytest.raises(RuntimeError, match="loss_map_mask: threshold must be a number, got NaN"):
        awing_ext.loss_map_mask(target, float("nan"))
    with pytest.raises(RuntimeError, match="adaptive_wing_loss: threshold must be a number, got NaN"):
        awing_ext.adaptive_wing_loss(target, target, threshold=float("nan"))
