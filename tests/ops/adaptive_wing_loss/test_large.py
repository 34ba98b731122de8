"""Indexing past 2**31 elements (needs ~13 GB of memory and a minute: marked slow)."""
import pytest
import torch

import awing_ext


@pytest.mark.slow
def test_more_than_2_pow_31_elements():
    h, w = 65536, 32769  # 2_147_549_184 > 2**31 elements; bfloat16 to fit in memory
    assert h * w > 2**31
    pred = torch.full((1, 1, h, w), 0.25, dtype=torch.bfloat16)
    target = torch.zeros((1, 1, h, w), dtype=torch.bfloat16)
    target[0, 0, -1, -1] = 1.0  # a peak only an index past 2**31 reaches
    loss_map = awing_ext.adaptive_wing_loss(pred, target, reduction="none")
    # The last rows must equal the same rows computed on their own (the dilation window of row
    # h-3 reads rows h-4..h-2, all background, so the crop changes nothing).
    tail = awing_ext.adaptive_wing_loss(pred[:, :, -3:].clone(), target[:, :, -3:].clone(), reduction="none")
    assert torch.equal(loss_map[:, :, -3:], tail)
    assert tail[0, 0, -1, -1] != tail[0, 0, 0, 0]  # the peak was seen where it is
    background = loss_map[0, 0, 0, 0]
    assert torch.equal(loss_map[0, 0, :2], torch.full((2, w), background.item(), dtype=torch.bfloat16))
    del loss_map
    total = awing_ext.adaptive_wing_loss(pred, target, reduction="sum").double().item()
    expected = (h - 3) * w * background.double().item() + tail.double().sum().item()
    assert total == pytest.approx(expected, rel=1e-2)  # bfloat16 output: ~3 significant digits
