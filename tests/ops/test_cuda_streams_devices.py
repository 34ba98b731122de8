"""The target ops and the loss on side streams, on a second GPU while the first is current, and
without host synchronisation in a training step's targets and loss (skipped without a GPU)."""
import torch

import awing_ext
from helpers.cuda_parity import requires_cuda, requires_two_gpus

pytestmark = requires_cuda


def faces(n, seed=0, k=68, size=64):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, 2, generator=g, dtype=torch.float64) * (size - 1)


# ------------------------------------------------------------------------------ rendering


def test_ops_on_a_side_stream():
    lm = faces(4, seed=1).float().cuda()
    expected = (awing_ext.render_heatmaps(lm, 64), awing_ext.render_boundaries(lm, "68", 64))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        got = (awing_ext.render_heatmaps(lm, 64), awing_ext.render_boundaries(lm, "68", 64))
        mask = awing_ext.loss_map_mask(got[0])
        decoded = awing_ext.decode_heatmaps(got[0])
    side.synchronize()
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    assert torch.equal(mask, awing_ext.loss_map_mask(expected[0]))
    assert torch.equal(decoded[0], awing_ext.decode_heatmaps(expected[0])[0])


@requires_two_gpus
def test_target_ops_on_a_second_device():
    lm = faces(3, seed=2).float()
    with torch.cuda.device(0):
        lm1 = lm.cuda(1)
        hm = awing_ext.render_heatmaps(lm1, 64)
        bd = awing_ext.render_boundaries(lm1, "68", 64)
        mask = awing_ext.loss_map_mask(hm)
        xy, _ = awing_ext.decode_heatmaps(hm)
    for t in (hm, bd, mask, xy):
        assert t.device == torch.device("cuda", 1)
    assert torch.equal(hm.cpu(), awing_ext.render_heatmaps(lm.cuda(0), 64).cpu())
    assert torch.equal(bd.cpu(), awing_ext.render_boundaries(lm.cuda(0), "68", 64).cpu())


def test_training_targets_and_loss_do_not_sync_the_host():
    """After a warm-up call (which copies the boundary span table once), building the targets of
    a training step and its loss forward/backward never wait for the GPU."""
    from training.core.codec import HeatmapCodec
    codec = HeatmapCodec(256, 64, 1.0, "68")
    lm = (faces(8, seed=9, size=256)).float().cuda()
    visible = torch.rand(8, 68, device="cuda") > 0.1
    pred = torch.rand(8, 69, 64, 64, device="cuda", requires_grad=True)
    target, weight = codec.encode(lm, visible)
    awing_ext.adaptive_wing_loss(pred, target, weight).backward()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        target, weight = codec.encode(lm, visible)
        awing_ext.render_boundaries(lm / 4, "68", 64, per_curve=True)
        awing_ext.loss_map_mask(target)
        awing_ext.adaptive_wing_loss(pred, target, weight).backward()
        awing_ext.decode_heatmaps(target)
    finally:
        torch.cuda.set_sync_debug_mode("default")
