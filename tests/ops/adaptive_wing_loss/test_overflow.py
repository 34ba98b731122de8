"""A sum beyond the dtype's range is +-inf on every backend (as torch's own sums), not an error.

Accumulation is in double, so only the final conversion to the input's dtype can overflow; the
mean of the same values stays finite and exact.
"""
import pytest
import torch

import awing_ext
from awing_ext.reference import adaptive_wing_loss_reference


@pytest.mark.parametrize("dtype,distance", [(torch.float32, 1e36), (torch.float16, 1e3),
                                            (torch.bfloat16, 1e36)], ids=str)
def test_sum_overflow_is_inf_and_mean_stays_finite(device, dtype, distance):
    # target 0 everywhere (mask weight 1); |pred - target| = distance: each pixel ~ 11 * distance,
    # finite in the dtype, but 4096 of them exceed its range.
    target = torch.zeros(1, 4, 32, 32, dtype=dtype, device=device)
    pred = torch.full_like(target, distance)
    per_pixel = adaptive_wing_loss_reference(pred[:, :, :1, :1].double(), target[:, :, :1, :1].double(),
                                             reduction="none")[0, 0, 0, 0].item()
    assert torch.isfinite(torch.tensor(per_pixel, dtype=dtype))
    total = awing_ext.adaptive_wing_loss(pred, target, reduction="sum")
    assert total.dtype == dtype and total.shape == () and total.item() == float("inf")
    negative = awing_ext.adaptive_wing_loss(pred, target, reduction="sum", weights=-torch.ones_like(pred))
    assert negative.item() == float("-inf")
    mean = awing_ext.adaptive_wing_loss(pred, target, reduction="mean")
    torch.testing.assert_close(mean.double().cpu(), torch.tensor(per_pixel, dtype=torch.float64),
                               rtol=1e-2 if dtype != torch.float32 else 1e-5, atol=0)


def test_sum_overflow_matches_torch_sum(device):
    """The same convention as torch: float16 loss map summed by torch overflows to inf too."""
    target = torch.zeros(2, 3, 16, 16, dtype=torch.float16, device=device)
    pred = torch.full_like(target, 100.0)
    loss_map = awing_ext.adaptive_wing_loss(pred, target, reduction="none")
    assert torch.isfinite(loss_map).all()
    assert loss_map.sum().item() == float("inf")
    assert awing_ext.adaptive_wing_loss(pred, target, reduction="sum").item() == float("inf")
