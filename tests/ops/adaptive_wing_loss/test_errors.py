"""Bad inputs get a clear error that names the argument."""
import pytest
import torch

import awing_ext


def _ok(device, dtype=torch.float32, shape=(2, 3, 4, 5)):
    return torch.rand(shape, dtype=dtype, device=device), torch.rand(shape, dtype=dtype, device=device)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5, 6), (7,)], ids=str)
def test_wrong_ndim(device, shape):
    t = torch.rand(shape, device=device)
    with pytest.raises(RuntimeError, match=r"pred must be 4-D \(N, C, H, W\)"):
        awing_ext.adaptive_wing_loss(t, t)


def test_target_ndim_and_shape_mismatch(device):
    pred, _ = _ok(device)
    with pytest.raises(RuntimeError, match="target must be 4-D"):
        awing_ext.adaptive_wing_loss(pred, torch.rand(2, 3, 4, device=device))
    with pytest.raises(RuntimeError, match="target must have the shape of pred"):
        awing_ext.adaptive_wing_loss(pred, torch.rand(2, 3, 4, 6, device=device))


def test_dtype_mismatch_and_unsupported_dtype(device):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match="target must have the dtype of pred"):
        awing_ext.adaptive_wing_loss(pred, target.double())
    ints = torch.ones(2, 3, 4, 5, dtype=torch.int32, device=device)
    with pytest.raises(RuntimeError, match="pred must be float32, float64, float16 or bfloat16"):
        awing_ext.adaptive_wing_loss(ints, ints)


def test_device_mismatch():
    """CPU pred with a tensor elsewhere (meta stands in for cuda on a machine without a GPU)."""
    pred = torch.rand(1, 2, 2, 2)
    other = torch.rand(1, 2, 2, 2, device="meta")
    with pytest.raises(RuntimeError, match="target must be on the device of pred"):
        awing_ext.adaptive_wing_loss(pred, other)
    with pytest.raises(RuntimeError, match="target_weight must be on the device of pred"):
        awing_ext.adaptive_wing_loss(pred, pred, torch.ones(1, 2, device="meta"))
    with pytest.raises(RuntimeError, match="weights must be on the device of pred"):
        awing_ext.adaptive_wing_loss(pred, pred, weights=other)


@pytest.mark.parametrize("name,value,pattern", [
    ("theta", 0.0, "theta must be > 0"), ("theta", -1.0, "theta must be > 0"),
    ("epsilon", 0.0, "epsilon must be > 0"), ("omega", -2.0, "omega must be > 0"),
])
def test_bad_loss_parameters(device, name, value, pattern):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match=pattern):
        awing_ext.adaptive_wing_loss(pred, target, **{name: value})
    with pytest.raises(ValueError, match=name):
        awing_ext.AdaptiveWingLoss(**{name: value})


@pytest.mark.parametrize("k", [0, -3, 2, 4, 33, 2**31 + 1, 2**62 + 1])
def test_bad_kernel_size(device, k):
    """Even, non-positive and oversized windows (a huge k once wrapped the CUDA kernel's radius)."""
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match=r"kernel_size must be a positive odd integer <= 31, got"):
        awing_ext.adaptive_wing_loss(pred, target, kernel_size=k)
    with pytest.raises(RuntimeError, match=r"kernel_size must be a positive odd integer <= 31, got"):
        awing_ext.loss_map_mask(target, kernel_size=k)
    with pytest.raises(ValueError, match="kernel_size"):
        awing_ext.AdaptiveWingLoss(kernel_size=k)


def test_largest_kernel_size_matches_scipy(device):
    """k = MAX_KERNEL_SIZE is accepted and still equals scipy's grey dilation (window > image)."""
    from scipy.ndimage import grey_dilation
    k = awing_ext.MAX_KERNEL_SIZE
    target = torch.rand(1, 2, 9, 40, dtype=torch.float64) ** 8
    mask = awing_ext.loss_map_mask(target.to(device), 0.2, k).cpu()
    expected = grey_dilation(target.numpy(), size=(1, 1, k, k)) > 0.2
    assert torch.equal(mask.bool(), torch.from_numpy(expected))


def test_unknown_reduction(device):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match="adaptive_wing_loss: reduction must be 'none', 'mean' or 'sum', got 'avg'"):
        awing_ext.adaptive_wing_loss(pred, target, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        awing_ext.AdaptiveWingLoss(reduction="batchmean")
    with pytest.raises(RuntimeError, match="reduction must be 'none', 'mean' or 'sum'"):
        awing_ext.ops.adaptive_wing_loss(pred, target, None, None, 14.0, 0.5, 1.0, 2.1, 10.0, 0.2, 3, "avg", False)


@pytest.mark.parametrize("shape", [(2,), (3, 3), (2, 3, 1), (6,)], ids=str)
def test_target_weight_wrong_shape(device, shape):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match=r"target_weight must have shape \(N, C\) = \(2, 3\)"):
        awing_ext.adaptive_wing_loss(pred, target, torch.ones(shape, device=device))


def test_target_weight_wrong_dtype(device):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match="target_weight must be a floating-point tensor"):
        awing_ext.adaptive_wing_loss(pred, target, torch.ones(2, 3, dtype=torch.int64, device=device))


def test_weights_wrong_shape(device):
    pred, target = _ok(device)
    with pytest.raises(RuntimeError, match="weights must have the shape of pred"):
        awing_ext.adaptive_wing_loss(pred, target, weights=torch.ones(2, 3, 4, device=device))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="must be torch.Tensor"):
        awing_ext.adaptive_wing_loss([[0.0]], torch.zeros(1, 1, 1, 1))
